package httpx_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

type fixture struct {
	engine *gin.Engine
	logs   *testinfra.SyncBuffer // written by the handlers' goroutines
	reg    *prometheus.Registry
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	logs := &testinfra.SyncBuffer{}
	reg := prometheus.NewRegistry()
	m, err := httpx.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
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
				if got != tt.sent {
					t.Errorf("X-Request-ID %q, want the one sent, %q", got, tt.sent)
				}
			} else if len(got) != 36 {
				t.Errorf("X-Request-ID %q has %d characters, want a 36-character UUID", got, len(got))
			} else if got[14:15] != "7" {
				t.Errorf("X-Request-ID %q has version %s, want a UUIDv7", got, got[14:15])
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("decode %s: %v", rec.Body.String(), err)
			}
			if body["rid"] != got || body["rid2"] != got {
				t.Errorf("request id from the request context %q, from gin's %q; want both %q", body["rid"], body["rid2"], got)
			}
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
	for _, secret := range []string{"topsecret", "sekret-token"} {
		if strings.Contains(line, secret) {
			t.Errorf("access log shows %q: %s", secret, line)
		}
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &entry); err != nil {
		t.Fatalf("decode the access log line %s: %v", line, err)
	}
	for k, want := range map[string]string{
		"request_id": "log-test-1",
		"method":     "GET",
		"route":      "/tickets/:id",
		"path":       "/tickets/42",
	} {
		if got := entry[k]; got != want {
			t.Errorf("%s = %#v, want %q", k, got, want)
		}
	}
	if got, ok := entry["status"].(float64); !ok || got != 200 {
		t.Errorf("status = %#v, want 200", entry["status"])
	}
	for _, k := range []string{"latency_ms", "bytes", "client_ip"} {
		if _, ok := entry[k]; !ok {
			t.Errorf("access log lacks %s: %s", k, line)
		}
	}
}

func TestRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "/panic", nil)
	req.Header.Set("X-Request-ID", "panic-1")
	rec := f.do(req)

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want %d", rec.Code, http.StatusInternalServerError)
	}
	if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
		t.Errorf("Content-Type %q, want %q", got, problem.ContentType)
	}
	if strings.Contains(rec.Body.String(), "hunter2") {
		t.Errorf("the response shows the panic's secret: %s", rec.Body.String())
	}
	if got := rec.Header().Get("X-Request-ID"); got != "panic-1" {
		t.Errorf("X-Request-ID %q, want %q", got, "panic-1")
	}
	logs := f.logs.String()
	for _, want := range []string{`"msg":"panic in handler"`, `"request_id":"panic-1"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if want := `"status":500`; !strings.Contains(logs, want) {
		t.Errorf("log lacks %s: a recovered panic is still access-logged:\n%s", want, logs)
	}
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
			if rec.Code != tt.code {
				t.Errorf("status %d, want %d", rec.Code, tt.code)
			}
			if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
				t.Errorf("Content-Type %q, want %q", got, problem.ContentType)
			}
			if rec.Header().Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			var p problem.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("decode problem %s: %v", rec.Body.String(), err)
			}
			if p.Status != tt.code || p.Instance != tt.path {
				t.Errorf("problem status %d, instance %q; want %d, %q", p.Status, p.Instance, tt.code, tt.path)
			}
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
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, want %d", rec.Code, http.StatusOK)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{method="GET",route="/tickets/:id",status="200"} 2`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/tickets/:id"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "/random/probe") {
		t.Errorf("metrics name the unmatched path /random/probe:\n%s", body)
	}

	if _, err := httpx.NewMetrics(f.reg); err == nil {
		t.Error("registering the metrics twice succeeded, want an error (not a panic)")
	}
}

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	reg, app := httpx.NewRegistry()
	app.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "probes_total", Help: "A test counter."}))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	// The standard collectors keep their standard names; the application's
	// own metrics carry the prefix.
	for _, want := range []string{"go_goroutines", "go_build_info", "ticketsys_probes_total"} {
		if !names[want] {
			t.Errorf("the registry lacks %s; it has %v", want, names)
		}
	}
	if names["probes_total"] {
		t.Error("an application metric is registered without the ticketsys_ prefix")
	}
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
			if rec.Code != tt.code {
				t.Errorf("status %d, want %d", rec.Code, tt.code)
			}
			if tt.code == 413 {
				if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
					t.Errorf("Content-Type %q, want %q", got, problem.ContentType)
				}
			}
		})
	}
	if httpx.IsBodyTooLarge(io.ErrUnexpectedEOF) {
		t.Error("IsBodyTooLarge(io.ErrUnexpectedEOF) = true, want false")
	}
}

// Made-up methods are counted under one label: /metrics does not grow with
// what clients send.
func TestMetricsMethodsAreAClosedSet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	scrape := func() string {
		rec := f.do(httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.String()
	}
	f.do(httptest.NewRequest("FOO0", "/tickets/1", nil))
	scrape() // the scrape's own series exist from here on
	before := len(strings.Split(scrape(), "\n"))
	for i := range 300 {
		f.do(httptest.NewRequest(fmt.Sprintf("FOO%d", i), "/tickets/1", nil))
	}
	body := scrape()
	if after := len(strings.Split(body, "\n")); after != before {
		t.Fatalf("/metrics grew from %d to %d lines with 300 made-up methods", before, after)
	}
	if strings.Contains(body, `method="FOO`) || !strings.Contains(body, `method="OTHER"`) {
		t.Fatalf("made-up methods labelled as sent:\n%s", body)
	}
}
