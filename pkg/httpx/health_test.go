package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/httpx"
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
