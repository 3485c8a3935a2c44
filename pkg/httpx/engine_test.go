package httpx_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
)

// syncBuffer lets the race detector watch log writes from server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	engine *gin.Engine
	logs   *syncBuffer
	reg    *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	m, err := httpx.NewMetrics(reg)
	require.NoError(t, err)
	e := httpx.NewEngine(slog.New(slog.NewJSONHandler(logs, nil)), m)
	e.GET("/tickets/:id", func(c *gin.Context) {
		// Both lookups must work: the request context and gin's context (ContextWithFallback).
		c.JSON(http.StatusOK, gin.H{"rid": httpx.RequestIDFrom(c.Request.Context()), "rid2": httpx.RequestIDFrom(c)})
	})
	e.GET("/panic", func(c *gin.Context) { panic("db password=hunter2") })
	httpx.RegisterOps(e, reg)
	return &fixture{engine: e, logs: logs, reg: reg}
}

func (f *fixture) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.engine.ServeHTTP(rec, req)
	return rec
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		name, sent string
		keep       bool
	}{
		{"sane kept", "abc-123_x.y:z", true},
		{"max length kept", strings.Repeat("a", 128), true},
		{"missing replaced", "", false},
		{"too long replaced", strings.Repeat("a", 129), false},
		{"bad chars replaced", "abc def\n", false},
		{"unicode replaced", "ñ", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/tickets/1", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-ID", tt.sent)
			}
			rec := f.do(req)
			got := rec.Header().Get("X-Request-ID")
			if tt.keep {
				assert.Equal(t, tt.sent, got)
			} else {
				assert.Len(t, got, 36)
				assert.Equal(t, "7", got[14:15], "UUIDv7 expected, got %s", got)
			}
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, got, body["rid"])
			assert.Equal(t, got, body["rid2"])
		})
	}
}

func TestAccessLogHidesSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "/tickets/42?api_key=topsecret", nil)
	req.Header.Set("Authorization", "Bearer sekret-token")
	req.Header.Set("X-Request-ID", "log-test-1")
	f.do(req)

	line := f.logs.String()
	assert.NotContains(t, line, "topsecret")
	assert.NotContains(t, line, "sekret-token")
	var entry map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(line)), &entry), line)
	assert.Equal(t, "log-test-1", entry["request_id"])
	assert.Equal(t, "GET", entry["method"])
	assert.Equal(t, "/tickets/:id", entry["route"])
	assert.Equal(t, "/tickets/42", entry["path"])
	assert.EqualValues(t, 200, entry["status"])
	assert.Contains(t, entry, "latency_ms")
	assert.Contains(t, entry, "bytes")
	assert.Contains(t, entry, "client_ip")
}

func TestRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "/panic", nil)
	req.Header.Set("X-Request-ID", "panic-1")
	rec := f.do(req)

	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	assert.NotContains(t, rec.Body.String(), "hunter2")
	assert.Equal(t, "panic-1", rec.Header().Get("X-Request-ID"))
	logs := f.logs.String()
	assert.Contains(t, logs, `"msg":"panic in handler"`)
	assert.Contains(t, logs, `"request_id":"panic-1"`)
	assert.Contains(t, logs, `"status":500`, "a recovered panic is still access-logged")
}

func TestNoRouteNoMethod(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tests := []struct {
		method, path string
		code         int
		allow        string
	}{
		{http.MethodGet, "/nope", 404, ""},
		{http.MethodGet, "/tickets/1/", 404, ""},
		{http.MethodPost, "/tickets/1", 405, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			t.Parallel()
			rec := f.do(httptest.NewRequest(tt.method, tt.path, nil))
			assert.Equal(t, tt.code, rec.Code)
			assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
			assert.NotEmpty(t, rec.Header().Get("X-Request-ID"))
			assert.Equal(t, tt.allow, rec.Header().Get("Allow"))
			var p problem.Problem
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, tt.code, p.Status)
			assert.Equal(t, tt.path, p.Instance)
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(httptest.NewRequest(http.MethodGet, "/tickets/1", nil))
	f.do(httptest.NewRequest(http.MethodGet, "/tickets/2", nil))
	f.do(httptest.NewRequest(http.MethodGet, "/random/probe", nil))

	rec := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	assert.Contains(t, body, `http_requests_total{method="GET",route="/tickets/:id",status="200"} 2`)
	assert.Contains(t, body, `http_requests_total{method="GET",route="unmatched",status="404"} 1`)
	assert.Contains(t, body, `http_request_duration_seconds_count{method="GET",route="/tickets/:id"} 2`)
	assert.NotContains(t, body, "/random/probe")

	_, err := httpx.NewMetrics(f.reg)
	assert.Error(t, err, "registering twice is reported, not a panic")
}

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	mfs, err := httpx.NewRegistry().Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	assert.True(t, names["go_goroutines"])
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.POST("/", httpx.BodyLimit(10), func(c *gin.Context) {
		_, err := io.ReadAll(c.Request.Body)
		if httpx.IsBodyTooLarge(err) {
			problem.PayloadTooLarge(c, "too large")
			return
		}
		c.Status(http.StatusNoContent)
	})
	tests := []struct {
		name     string
		body     string
		declared bool
		code     int
	}{
		{"small declared", "0123456789", true, 204},
		{"large declared", "0123456789x", true, 413},
		{"small streamed", "0123456789", false, 204},
		{"large streamed", "0123456789x", false, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if !tt.declared {
				req.ContentLength = -1 // as for a chunked body
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			assert.Equal(t, tt.code, rec.Code)
			if tt.code == 413 {
				assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
			}
		})
	}
	assert.False(t, httpx.IsBodyTooLarge(io.ErrUnexpectedEOF))
}
