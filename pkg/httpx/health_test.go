package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

type readyBody struct {
	Status  string            `json:"status"`
	Failing map[string]string `json:"failing"`
}

func ready(t *testing.T, checks ...httpx.Check) (int, readyBody) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET("/readyz", httpx.Ready(checks...))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var body readyBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode /readyz body %s: %v", rec.Body.String(), err)
	}
	return rec.Code, body
}

func ok(context.Context) error { return nil }

func TestHealthz(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET("/healthz", httpx.Healthz())
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("status %d, want %d", rec.Code, http.StatusOK)
	}
	var got, want any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %s is not JSON: %v", rec.Body.String(), err)
	}
	if err := json.Unmarshal([]byte(`{"status":"ok"}`), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("body %s, want the JSON %s", rec.Body.String(), `{"status":"ok"}`)
	}
}

func TestReadyAllOK(t *testing.T) {
	t.Parallel()
	code, body := ready(t, httpx.Check{Name: "postgres", Fn: ok}, httpx.Check{Name: "redis", Fn: ok})
	if code != http.StatusOK {
		t.Errorf("status %d, want %d", code, http.StatusOK)
	}
	if want := (readyBody{Status: "ok"}); !reflect.DeepEqual(body, want) {
		t.Errorf("body %+v, want %+v", body, want)
	}

	code, _ = ready(t)
	if code != http.StatusOK {
		t.Errorf("no checks: status %d, want %d: no checks means ready", code, http.StatusOK)
	}
}

func TestReadyFailing(t *testing.T) {
	t.Parallel()
	start := time.Now()
	code, body := ready(t,
		httpx.Check{Name: "postgres", Fn: func(context.Context) error {
			return errors.New("dial postgres://app:hunter2@db:5432: refused")
		}},
		httpx.Check{Name: "nats", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		// Ignores its context: the probe must still answer at the timeout.
		httpx.Check{Name: "stuck", Fn: func(context.Context) error { time.Sleep(3 * time.Second); return nil }},
		httpx.Check{Name: "buggy", Fn: func(context.Context) error { panic("boom") }},
		httpx.Check{Name: "redis", Fn: ok},
	)
	if took, limit := time.Since(start), httpx.CheckTimeout+time.Second; took >= limit {
		t.Errorf("the probe took %v, want less than %v: checks run concurrently", took, limit)
	}
	if code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want %d", code, http.StatusServiceUnavailable)
	}
	want := readyBody{Status: "unavailable", Failing: map[string]string{
		"postgres": "unreachable", "nats": "timeout", "stuck": "timeout", "buggy": "failed",
	}}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body %+v, want %+v", body, want)
	}
}

// A failing check is logged when it starts failing, when its error changes, and when it passes again, not
// on every probe. Not parallel: it replaces the default logger.
func TestReadyLogsChangesOnly(t *testing.T) {
	logs := &testinfra.SyncBuffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	var current atomic.Pointer[error]
	set := func(err error) { current.Store(&err) }
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET("/readyz", httpx.Ready(
		httpx.Check{Name: "postgres", Fn: func(context.Context) error { return *current.Load() }},
		httpx.Check{Name: "redis", Fn: ok},
	))
	probe := func(times int) {
		for range times {
			e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/readyz", nil))
		}
	}
	set(errors.New("connection refused"))
	probe(5)
	set(errors.New("the database system is starting up"))
	probe(3)
	set(nil)
	probe(4)
	set(errors.New("connection refused"))
	probe(2)

	var got []string
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec struct{ Level, Msg, Check, Error string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, rec.Level+" "+rec.Msg+" "+rec.Check+" "+rec.Error)
	}
	want := []string{
		"WARN readiness check failed postgres connection refused",
		"WARN readiness check failed postgres the database system is starting up",
		"INFO readiness check passes again postgres ",
		"WARN readiness check failed postgres connection refused",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
