package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/services/query/internal/service"
)

const (
	secret       = "main-test-secret-that-is-32-bytes-or-more"
	cursorSecret = "main-test-cursor-key-that-is-32-bytes-long"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// run is main without the process, as the tests drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, ready func(string)) error {
	return service.App.Run(ctx, svcmain.Env{Args: args, Getenv: getenv, Stdout: stdout, Ready: ready})
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no secret", map[string]string{}, "AUTH_JWT_SECRET"},
		{"bad ttl", map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "CACHE_TTL_SECONDS": "ten"}, "CACHE_TTL_SECONDS"},
		{"bad redis url", map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "REDIS_URL": "localhost:6379"}, "REDIS_URL"},
		{"bad database url", map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "DATABASE_URL": "postgres://%zz"}, "DATABASE_URL"},
		{"bad log level", map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"bad log format", map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"no cursor key", map[string]string{"AUTH_JWT_SECRET": secret}, "CURSOR_SECRET"},
		{"dev secret", map[string]string{"AUTH_JWT_SECRET": auth.DevSecret, "CURSOR_SECRET": cursorSecret}, "ENV=development"},
		{"port in use", map[string]string{"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "HTTP_ADDR": "256.0.0.1:1"}, "HTTP_ADDR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), nil, envOf(tc.env), io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line naming %s", err, tc.want)
			}
		})
	}
	if err := run(t.Context(), []string{"migrate"}, envOf(nil), io.Discard, nil); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}

// run serves reads (MISS, then HIT) and stops cleanly when its context ends.
func TestRunServesAndStops(t *testing.T) {
	t.Parallel()
	dbURL := ticketsdb.New(t)
	redisURL := testinfra.RedisURL(t)
	prefix := testinfra.UniqueName(t, "m") + ":"
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	testinfra.CleanRedisPrefix(t, rdb, prefix)
	env := map[string]string{
		"READ_DATABASE_URL": dbURL, "REDIS_URL": redisURL, "CACHE_KEY_PREFIX": prefix,
		"AUTH_JWT_SECRET": secret, "CURSOR_SECRET": cursorSecret, "HTTP_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "5s",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &testinfra.SyncBuffer{}
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, envOf(env), logs, func(a string) { addr <- a }) }()
	base := "http://" + <-addr

	tok, err := auth.Mint([]byte(secret), "me", []string{"tickets:read"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	described := openapitest.Query(t).Recorder(t)
	for _, want := range []string{"MISS", "HIT"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/tickets", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		described.Record(req, res.StatusCode, res.Header, body)
		if res.StatusCode != http.StatusOK || res.Header.Get("X-Cache") != want {
			t.Fatalf("GET /tickets: %d %s %s, want X-Cache %s", res.StatusCode, res.Header.Get("X-Cache"), body, want)
		}
	}
	testinfra.LintMetrics(t, base+"/metrics")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, want := range []string{`"msg":"query listening"`, `"msg":"query stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}
