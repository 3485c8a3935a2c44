package httpx_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
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
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
}

func TestReadyAllOK(t *testing.T) {
	t.Parallel()
	code, body := ready(t, httpx.Check{Name: "postgres", Fn: ok}, httpx.Check{Name: "redis", Fn: ok})
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, readyBody{Status: "ok"}, body)

	code, _ = ready(t)
	assert.Equal(t, http.StatusOK, code, "no checks means ready")
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
	assert.Less(t, time.Since(start), httpx.CheckTimeout+time.Second, "checks run concurrently")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, readyBody{Status: "unavailable", Failing: map[string]string{
		"postgres": "unreachable", "nats": "timeout", "stuck": "timeout", "buggy": "failed",
	}}, body)
}
