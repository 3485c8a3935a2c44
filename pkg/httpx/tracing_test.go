package httpx_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// Server spans follow the HTTP semantic conventions: named "METHOD route", with http.route and the
// status the client really got, an error status for 5xx only, the caller's trace continued, and
// none for probes. Not parallel: it installs the global tracer provider.
func TestServerSpans(t *testing.T) {
	rec := testinfra.RecordSpans(t)

	logs := &testinfra.SyncBuffer{}
	e := httpx.NewEngine(slog.New(slog.NewJSONHandler(logs, nil)), nil, httpx.WithTracing("svc"))
	inHandler := map[string]trace.SpanContext{}
	e.PATCH("/tickets/:id", func(c *gin.Context) {
		inHandler[c.Request.Method] = trace.SpanContextFromContext(c.Request.Context())
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	e.DELETE("/tickets/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	e.GET("/panic", func(c *gin.Context) { panic("boom") })
	e.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	parent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	cases := []struct {
		method, path string
		status       int
		name, route  string
		code         codes.Code
	}{
		{http.MethodPatch, "/tickets/7", http.StatusOK, "PATCH /tickets/:id", "/tickets/:id", codes.Unset},
		{http.MethodDelete, "/tickets/7", http.StatusNoContent, "DELETE /tickets/:id", "/tickets/:id", codes.Unset},
		{http.MethodGet, "/panic", http.StatusInternalServerError, "GET /panic", "/panic", codes.Error},
		{http.MethodGet, "/nowhere", http.StatusNotFound, "GET", "", codes.Unset},
		{http.MethodPost, "/panic", http.StatusMethodNotAllowed, "POST", "", codes.Unset},
		// A made-up method is not a span name: the conventions' _OTHER keeps names bounded.
		{"FROBNICATE", "/tickets/7", http.StatusMethodNotAllowed, "HTTP", "", codes.Unset},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader("{}"))
		req.Header.Set("traceparent", parent)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Fatalf("%s %s: status %d, want %d", c.method, c.path, w.Code, c.status)
		}
		spans := rec.Ended()
		if len(spans) == 0 {
			t.Fatalf("%s %s: no span", c.method, c.path)
		}
		sp := spans[len(spans)-1]
		attrs := map[string]string{}
		for _, kv := range sp.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		switch {
		case sp.Name() != c.name:
			t.Errorf("%s %s: span %q, want %q", c.method, c.path, sp.Name(), c.name)
		case sp.SpanKind() != trace.SpanKindServer:
			t.Errorf("%s %s: span kind %v, want server", c.method, c.path, sp.SpanKind())
		case attrs["http.route"] != c.route:
			t.Errorf("%s %s: http.route %q, want %q", c.method, c.path, attrs["http.route"], c.route)
		case attrs["http.response.status_code"] != strconv.Itoa(c.status):
			t.Errorf("%s %s: http.response.status_code %q, want %d", c.method, c.path, attrs["http.response.status_code"], c.status)
		case sp.Status().Code != c.code:
			t.Errorf("%s %s: span status %v, want %v", c.method, c.path, sp.Status().Code, c.code)
		case sp.Parent().SpanID().String() != "00f067aa0ba902b7" || sp.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736":
			t.Errorf("%s %s: span does not continue the caller's trace (parent %v)", c.method, c.path, sp.Parent())
		}
	}
	if sc := inHandler[http.MethodPatch]; sc.SpanID() != spanNamed(t, rec, "PATCH /tickets/:id").SpanContext().SpanID() {
		t.Errorf("the handler's context holds span %v, not the server span", sc.SpanID())
	}
	if !strings.Contains(logs.String(), `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) {
		t.Errorf("the access log does not carry the trace id:\n%s", logs.String())
	}

	before := len(rec.Ended())
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Fatalf("/healthz: %d %q", w.Code, w.Body.String())
	}
	if n := len(rec.Ended()); n != before {
		t.Errorf("/healthz made %d spans, want none", n-before)
	}
}

func spanNamed(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, sp := range rec.Ended() {
		if sp.Name() == name {
			return sp
		}
	}
	t.Fatalf("no span %q", name)
	return nil
}
