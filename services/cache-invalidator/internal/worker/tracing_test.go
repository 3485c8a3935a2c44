package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/extra/redisotel/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// The worker's span continues the trace whose traceparent the command
// service stored with the event. Not parallel: it installs the global
// tracer provider.
func TestWorkContinuesTheWritersTrace(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { tracing.Install(sdktrace.NewTracerProvider()) })

	h := newHarness(t)
	// As service.NewRedis does for the real client.
	if err := redisotel.InstrumentTracing(h.rdb); err != nil {
		t.Fatal(err)
	}
	h.start(h.config())
	tk := newTicket(t, "traced")
	ev := created(t, tk)
	body, err := ticketevent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	headers := ticketevent.Headers(ev, "/test")
	headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	msg := nats.NewMsg(h.stream.Subject(tk.ID))
	msg.Header = ticketevent.NATSHeader(headers)
	msg.Data = body
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	h.waitVersion(tk.ID, 1, false)

	var apply sdktrace.ReadOnlySpan
	testinfra.Eventually(t, 5*time.Second, func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == "cache-invalidator apply" {
				apply = sp
				return true
			}
		}
		return false
	}, "no span for the applied event")
	if apply.SpanContext().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
		apply.Parent().SpanID().String() != "b7ad6b7169203331" || apply.SpanKind() != trace.SpanKindConsumer {
		t.Fatalf("apply span %v (parent %v) is not in the writer's trace", apply.SpanContext(), apply.Parent())
	}
	redisSpans := 0
	for _, sp := range rec.Ended() {
		if sp.Parent().SpanID() == apply.SpanContext().SpanID() {
			redisSpans++
		}
	}
	if redisSpans == 0 {
		t.Fatal("no Redis spans under the apply span")
	}
}
