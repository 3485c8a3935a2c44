package service_test

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// One trace runs from the HTTP write through its database work into the
// event's traceparent header. (The invalidator's side is checked end to end.)
// Not parallel: it installs the global tracer provider.
func TestWriteTraceReachesTheEvent(t *testing.T) {
	rec := testinfra.RecordSpans(t)

	s := newStack(t, "")
	srv := s.start()
	// The caller's own trace is continued, not replaced.
	parent := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	r := do(t, srv, http.MethodPost, "/tickets", `{"title":"traced"}`, "traceparent", parent)
	mustStatus(t, r, http.StatusCreated)

	msg := s.waitMessages(1)[0]
	tp := msg.header.Get("traceparent")
	if !strings.HasPrefix(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Fatalf("event traceparent %q does not continue the request's trace", tp)
	}

	var server trace.SpanID
	var dbSpans int
	for _, sp := range rec.Ended() {
		if sp.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			continue
		}
		switch {
		case sp.SpanKind() == trace.SpanKindServer && strings.Contains(sp.Name(), "/tickets"):
			server = sp.SpanContext().SpanID()
		case sp.SpanKind() == trace.SpanKindClient:
			dbSpans++
		}
	}
	if !server.IsValid() {
		t.Fatal("no server span for POST /tickets in the trace")
	}
	if dbSpans == 0 {
		t.Fatal("no database spans in the trace")
	}
	if !strings.Contains(tp, "-"+server.String()+"-") {
		t.Fatalf("traceparent %q does not name the request's server span %s", tp, server)
	}
}
