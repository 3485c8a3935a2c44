package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/services/command/internal/service"
)

const secret = "main-test-secret-that-is-32-bytes-or-more"

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
		{"bad replicas", map[string]string{"AUTH_JWT_SECRET": secret, "STREAM_REPLICAS": "many"}, "STREAM_REPLICAS"},
		{"bad max age", map[string]string{"AUTH_JWT_SECRET": secret, "STREAM_MAX_AGE": "forever"}, "STREAM_MAX_AGE"},
		{"bad database url", map[string]string{"AUTH_JWT_SECRET": secret, "DATABASE_URL": "postgres://%zz"}, "DATABASE_URL"},
		{"bad log level", map[string]string{"AUTH_JWT_SECRET": secret, "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"dev secret", map[string]string{"AUTH_JWT_SECRET": auth.DevSecret}, "ENV=development"},
		{"bad stream name", map[string]string{"AUTH_JWT_SECRET": secret, "STREAM_NAME": "a.b"}, "STREAM_NAME"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), nil, envOf(tc.env), &bytes.Buffer{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line naming %s", err, tc.want)
			}
		})
	}
	if err := run(t.Context(), []string{"explode"}, envOf(nil), &bytes.Buffer{}, nil); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
	// migrate needs no key: it serves nobody. (It fails here on the
	// unreachable database, not on the missing AUTH_JWT_SECRET.)
	err := run(t.Context(), []string{"migrate"}, envOf(map[string]string{
		"DATABASE_URL": "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1"}), &bytes.Buffer{}, nil)
	if err == nil || strings.Contains(err.Error(), "AUTH_") {
		t.Fatalf("migrate without a key: %v", err)
	}
}

// run migrates on request, serves, and on shutdown lets an in-flight write
// finish before it returns.
func TestRunMigratesServesAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	// A bare database: the migrate subcommand must build the schema itself.
	dbURL := testinfra.NewDatabase(t, testinfra.Migrator{
		Name: "empty", Fingerprint: "none",
		Migrate: func(context.Context, string) error { return nil },
	})
	name := testinfra.UniqueName(t, "M")
	env := map[string]string{
		"DATABASE_URL": dbURL, "NATS_URL": testinfra.NATSURL(t), "AUTH_JWT_SECRET": secret,
		"HTTP_ADDR": "127.0.0.1:0", "STREAM_NAME": name, "STREAM_SUBJECT_PREFIX": "test." + name,
		"LOG_LEVEL": "error", "SHUTDOWN_TIMEOUT": "10s",
	}
	if err := run(t.Context(), []string{"migrate"}, envOf(env), &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	// Migrating twice is a no-op.
	if err := run(t.Context(), []string{"migrate"}, envOf(env), &bytes.Buffer{}, nil); err != nil {
		t.Fatal(err)
	}
	testinfra.DeleteStreamsAtCleanup(t, testinfra.JetStream(t, env["NATS_URL"]), name)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), &bytes.Buffer{}, func(a string) { addrCh <- a }) }()
	base := "http://" + <-addrCh

	tok, err := auth.Mint([]byte(secret), "alice", []string{"tickets:write"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	described := openapitest.Command(t).Recorder(t)
	send := func(method, path, body string) (*http.Response, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(bytes.NewReader(b))
		described.Record(req, res.StatusCode, res.Header, b)
		return res, err
	}
	res, err := send(http.MethodPost, "/tickets", `{"title":"graceful"}`)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", res, err)
	}
	id := strings.TrimPrefix(res.Header.Get("Location"), "/tickets/")
	res.Body.Close()
	testinfra.LintMetrics(t, base+"/metrics")

	// Hold the ticket's row lock so the next write stays in flight.
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), `SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var status int
	wg.Go(func() {
		res, err := send(http.MethodPatch, "/tickets/"+id, `{"status":"closed"}`)
		if err != nil {
			t.Errorf("in-flight write: %v", err)
			return
		}
		status = res.StatusCode
		res.Body.Close()
	})
	watcher, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close(context.Background())
	testinfra.Eventually(t, 5*time.Second, func() bool {
		var waiting int
		// Sessions of this test's database only: other tests wait on locks of their own.
		_ = watcher.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		return waiting > 0
	}, "the write never waited on the lock")

	cancel() // shutdown starts while the write is in flight
	testinfra.Eventually(t, 5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "the listener never closed")
	select {
	case err := <-done:
		t.Fatalf("run returned before the in-flight request finished: %v", err)
	default:
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if status != http.StatusOK {
		t.Fatalf("in-flight write answered %d, want 200", status)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	var v int
	if err := conn.QueryRow(t.Context(), `SELECT version FROM tickets WHERE id = $1`, id).Scan(&v); err != nil || v != 2 {
		t.Fatalf("version %d (%v): the in-flight write was lost", v, err)
	}
}
