package service_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
	"github.com/ticketsys/ticketsys/services/query/internal/service"
)

const (
	testSecret       = "test-secret-that-is-at-least-32-bytes-long"
	testCursorSecret = "test-cursor-key-that-is-at-least-32-bytes"
)

// harness is one test's world: its own database, its own Redis key prefix
// on the shared Redis (or a Redis the test owns), and a query service on
// them. db is a writable pool standing in for the command service, cache a
// ticketcache on the same keys standing in for the invalidator.
type harness struct {
	t      testing.TB
	env    map[string]string
	dbURL  string
	db     *pgxpool.Pool
	rdb    redis.UniversalClient
	keys   ticketcache.Keys
	cache  *ticketcache.Cache
	svc    *service.Service
	srv    *httptest.Server
	logOut io.Writer
}

// newHarness prepares the world; start runs the service. redisURL "" means
// the shared Redis.
func newHarness(t testing.TB, redisURL string) *harness {
	t.Helper()
	if redisURL == "" {
		redisURL = testinfra.RedisURL(t)
	}
	h := &harness{t: t, dbURL: ticketsdb.New(t), logOut: io.Discard}
	prefix := testinfra.UniqueName(t, "q") + ":"
	h.env = map[string]string{
		"READ_DATABASE_URL": h.dbURL,
		"REDIS_URL":         redisURL,
		"CACHE_KEY_PREFIX":  prefix,
		"AUTH_JWT_SECRET":   testSecret,
		"CURSOR_SECRET":     testCursorSecret,
		"LOG_LEVEL":         "error",
		// The 100ms default is for production; under the race detector on
		// two busy cores a healthy Redis can take longer, and three slow
		// calls would open the breaker and turn an expected HIT into a
		// BYPASS. Outages are refused connections here, answered at once.
		"REDIS_TIMEOUT": "2s",
	}
	db, err := pgxpool.New(context.Background(), h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	h.db = db

	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	testinfra.CleanRedisPrefix(t, rdb, prefix)
	h.rdb = rdb
	h.keys = ticketcache.Keys{Prefix: prefix}
	h.cache = ticketcache.New(rdb, h.keys, 600*time.Second)
	return h
}

// start runs a query service on the harness; overrides are env pairs.
func (h *harness) start(opts []service.Option, overrides ...string) *httptest.Server {
	h.t.Helper()
	env := maps.Clone(h.env)
	for i := 0; i+1 < len(overrides); i += 2 {
		env[overrides[i]] = overrides[i+1]
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		h.t.Fatal(err)
	}
	level := slog.LevelError
	if env["LOG_LEVEL"] == "debug" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(h.logOut, &slog.HandlerOptions{Level: level}))
	reg, app := httpx.NewRegistry()
	svc, err := service.New(context.Background(), cfg, log, app, reg, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler)
	servers.Store(srv, openapitest.Query(h.t).Recorder(h.t))
	h.t.Cleanup(func() {
		srv.Close()
		svc.Close()
		servers.Delete(srv)
	})
	h.svc, h.srv = svc, srv
	return srv
}

func token(t testing.TB, scopes ...string) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"tickets:read"}
	}
	tok, err := auth.Mint([]byte(testSecret), "reader", scopes, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) cache() string { return r.header.Get("X-Cache") }

func (r resp) problem(t testing.TB) problem.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("content type %q, want problem+json; body %s", ct, r.body)
	}
	var p problem.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	return p
}

// get sends GET with a read token unless headers set Authorization ("" to
// send none).
func (h *harness) get(path string, headers ...string) resp {
	h.t.Helper()
	return send(h.t, h.srv, http.MethodGet, path, headers...)
}

func send(t testing.TB, srv *httptest.Server, method, path string, headers ...string) resp {
	t.Helper()
	r, err := trySend(srv, method, path, token(t), headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// servers maps each running service to the recorder of its test's
// responses, which validates them against the query service's OpenAPI
// description (api/openapi/query.yaml) when the test ends: a mismatch fails
// the test.
var servers sync.Map // *httptest.Server → *openapitest.Recorder

// trySend is send for goroutines other than the test's: it returns the error.
// Every response is recorded for validation against the description.
func trySend(srv *httptest.Server, method, path, tok string, headers ...string) (resp, error) {
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		return resp{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return resp{}, err
	}
	if rec, ok := servers.Load(srv); ok {
		rec.(*openapitest.Recorder).Record(req, res.StatusCode, res.Header, b)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}, nil
}

func mustStatus(t testing.TB, r resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
}

func mustCache(t testing.TB, r resp, want string) {
	t.Helper()
	if got := r.cache(); got != want {
		t.Fatalf("X-Cache %q, want %q (status %d)", got, want, r.status)
	}
}

// metric returns the line of /metrics that starts with name{labels}, or "".
func (h *harness) metric(series string) string {
	h.t.Helper()
	r := h.get("/metrics", "Authorization", "")
	mustStatus(h.t, r, http.StatusOK)
	for _, line := range strings.Split(string(r.body), "\n") {
		if strings.HasPrefix(line, series+" ") {
			return line
		}
	}
	return ""
}
