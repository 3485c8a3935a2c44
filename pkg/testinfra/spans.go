package testinfra

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// RecordSpans turns tracing on for the test with a global provider that keeps every ended span in the
// returned recorder, and puts back a provider that keeps nothing when the test ends. The provider is
// global: the test must not run in parallel with others that trace.
func RecordSpans(t testing.TB) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tracing.Install(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { tracing.Install(sdktrace.NewTracerProvider()) })
	return rec
}
