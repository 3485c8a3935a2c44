package stack

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// The system's processes in the compose file, and the package each of the
// built ones runs.
var builtFrom = map[string]string{
	"migrate":           "./services/command",
	"command":           "./services/command",
	"query":             "./services/query",
	"cache-invalidator": "./services/cache-invalidator",
}

var infrastructure = []string{"postgres", "redis", "nats"}

// observability is the services of the observability profile, off unless
// `docker compose --profile observability` turns them on.
var observability = []string{"prometheus", "grafana", "jaeger"}

// tracingVars are the OpenTelemetry variables compose passes to the three
// services: not in their --help (the exporter and resource read them), but
// documented in docs/configuration.md as read by the services, and all unset
// unless the environment sets them.
var tracingVars = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_RESOURCE_ATTRIBUTES"}

// contractVars is the CONTRACT's configuration table, per process; optional
// marks the variables without a default (unset unless the caller sets them).
var contractVars = map[string][]string{
	"command": {"HTTP_ADDR", "ENV", "DATABASE_URL", "NATS_URL", "NATS_CREDS?", "STREAM_REPLICAS", "STREAM_MAX_AGE",
		"AUTH_PUBLIC_KEY_FILE", "AUTH_JWT_SECRET?", "AUTH_JWKS_URL?", "AUTH_ISSUER?", "AUTH_AUDIENCE?", "AUTH_DISABLED?", "LOG_LEVEL", "LOG_FORMAT"},
	"query": {"HTTP_ADDR", "ENV", "READ_DATABASE_URL", "REDIS_URL", "REDIS_CLUSTER", "CACHE_TTL_SECONDS",
		"AUTH_PUBLIC_KEY_FILE", "AUTH_JWT_SECRET?", "AUTH_JWKS_URL?", "AUTH_ISSUER?", "AUTH_AUDIENCE?", "AUTH_DISABLED?", "LOG_LEVEL", "LOG_FORMAT"},
	"cache-invalidator": {"HTTP_ADDR", "ENV", "REDIS_URL", "REDIS_CLUSTER", "NATS_URL", "NATS_CREDS?", "CACHE_TTL_SECONDS",
		"LOG_LEVEL", "LOG_FORMAT"},
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadProject loads the compose file with env as the whole environment and
// the given profiles active (none: the default stack).
func loadProject(t *testing.T, env map[string]string, profiles ...string) *types.Project {
	t.Helper()
	p, err := LoadCompose(context.Background(), repoRoot(t), env, profiles...)
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// env returns a service's variable, "" when it is unset or declared without
// a value.
func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

// port is the port of HTTP_ADDR (":8081" -> "8081").
func port(s types.ServiceConfig) string {
	addr := env(s, "HTTP_ADDR")
	return addr[strings.LastIndex(addr, ":")+1:]
}

func parseURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("%q is not an absolute URL", raw)
	}
	return u
}
