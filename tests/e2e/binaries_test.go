package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Every binary answers --help (its subcommands and every variable it reads,
// with its default) and --version (version, commit, Go version), exit 0.
func TestBinariesAnswerHelpAndVersion(t *testing.T) {
	t.Parallel()
	wants := map[string][]string{
		"command": {"command [serve]", "command migrate", "HTTP_ADDR", ":8081", "DATABASE_URL", "NATS_URL",
			"STREAM_REPLICAS", "OUTBOX_POLL_INTERVAL", "AUTH_PUBLIC_KEY_FILE", "AUTH_JWT_SECRET", "AUTH_MAX_TOKEN_LIFETIME",
			"ENV", "production", "LOG_LEVEL", "SHUTDOWN_TIMEOUT"},
		"query": {"query [serve]", "HTTP_ADDR", ":8082", "READ_DATABASE_URL", "REDIS_URL", "REDIS_TIMEOUT",
			"CACHE_TTL_SECONDS", "600", "CACHE_KEY_PREFIX", "CURSOR_SECRET", "AUTH_JWKS_URL", "LOG_FORMAT"},
		"cache-invalidator": {"cache-invalidator [serve]", "HTTP_ADDR", ":8083", "REDIS_CLUSTER", "NATS_CREDS",
			"CONSUMER_NAME", "DLQ_STREAM_NAME", "LIST_REBUMP_DELAY", "WORKER_CONCURRENCY", "CACHE_TTL_SECONDS"},
		"ticketctl": {"events", "dlq", "cache", "token", "keys", "ui", "tickets", "TICKETSYS_URL", "http://localhost:8000", "NATS_URL", "REDIS_URL", "DATABASE_URL",
			"AUTH_PRIVATE_KEY_FILE", "AUTH_JWT_SECRET", "nats://127.0.0.1:4222"},
		"httpprobe": {"httpprobe URL", "--version", "Environment: none."},
	}
	for name, want := range wants {
		help, err := exec.Command(binaries[name], "--help").CombinedOutput()
		if err != nil {
			t.Errorf("%s --help: %v\n%s", name, err, help)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(help), w) {
				t.Errorf("%s --help lacks %q:\n%s", name, w, help)
			}
		}
		version, err := exec.Command(binaries[name], "--version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(version), name+" ") || !strings.Contains(string(version), "(commit ") {
			t.Errorf("%s --version: %v %q", name, err, version)
		}
	}
	// A flag the binary does not know is a usage error: exit 2.
	err := exec.Command(binaries["query"], "--frobnicate").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("query --frobnicate: %v, want exit 2", err)
	}
}
