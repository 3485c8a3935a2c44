package tracing_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/baggage"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

func TestEnabledFollowsTheEnvironment(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if tracing.Enabled(env(nil)) {
		t.Fatal("on without an endpoint")
	}
	if !tracing.Enabled(env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})) ||
		!tracing.Enabled(env(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x"})) {
		t.Fatal("off with an endpoint")
	}
	stop, err := tracing.Setup(context.Background(), "svc", "v1.2.3", env(nil))
	if err != nil || stop(context.Background()) != nil {
		t.Fatalf("setup without an endpoint: %v", err)
	}
}

// The context survives the trip through stored headers into a NATS message,
// whose header names stay lower-case.
func TestInjectExtractThroughNATSHeaders(t *testing.T) {
	tracing.Install(sdktrace.NewTracerProvider())
	ctx, span := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "write")
	defer span.End()

	// A client's baggage stays out of stored events.
	m, err := baggage.NewMember("user", "alice")
	if err != nil {
		t.Fatal(err)
	}
	b, err := baggage.New(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx = baggage.ContextWithBaggage(ctx, b)
	stored := map[string]string{}
	tracing.Inject(ctx, stored)
	if stored["traceparent"] == "" || len(stored) != 1 {
		t.Fatalf("injected %v, want the traceparent only", stored)
	}
	h := nats.Header{}
	for k, v := range stored {
		h[k] = []string{v}
	}
	got := trace.SpanContextFromContext(tracing.Extract(context.Background(), h))
	if got.TraceID() != span.SpanContext().TraceID() || !got.IsRemote() {
		t.Fatalf("extracted %v, want trace %v", got, span.SpanContext().TraceID())
	}

	empty := map[string]string{}
	tracing.Inject(context.Background(), empty)
	if len(empty) != 0 {
		t.Fatalf("injected without a span: %v", empty)
	}
}
