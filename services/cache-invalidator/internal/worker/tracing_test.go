package worker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

func spanAttrs(sp sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, kv := range sp.Attributes() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// failCache fails every write, with an error that is not Redis being down.
type failCache struct{ invalidation.Cache }

var errCacheBug = errors.New("cache refused the write")

func (failCache) Change(context.Context, string, int64, *ticket.Ticket, *ticket.Ticket) (bool, error) {
	return false, errCacheBug
}

// The worker's span continues the trace whose traceparent the command
// service stored with the event. Not parallel: it installs the global
// tracer provider.
func TestWorkContinuesTheWritersTrace(t *testing.T) {
	rec := testinfra.RecordSpans(t)

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
			if sp.Name() == "process "+h.config().Consumer {
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
	attrs := spanAttrs(apply)
	for k, want := range map[string]string{
		"messaging.system":              "nats",
		"messaging.operation.type":      "process",
		"messaging.operation.name":      "process",
		"messaging.destination.name":    h.stream.Subject(tk.ID),
		"messaging.consumer.group.name": "cache-invalidator",
		"messaging.message.id":          ev.GetEventId(),
		"ticket.id":                     tk.ID,
	} {
		if attrs[k] != want {
			t.Errorf("apply span: %s = %q, want %q", k, attrs[k], want)
		}
	}
	if apply.Status().Code == codes.Error {
		t.Errorf("applied event's span failed: %v", apply.Status())
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

// A failed apply's span has the Error status and the error as an
// exception event. Not parallel: it installs the global tracer provider.
func TestFailedApplySpanIsAnError(t *testing.T) {
	rec := testinfra.RecordSpans(t)

	h := newHarness(t)
	cfg := h.config()
	cfg.MaxDeliver = 2
	h.startRule(cfg, failCache{Cache: h.cache}, 0)
	tk := newTicket(t, "failing")
	h.publish(created(t, tk))

	var failed sdktrace.ReadOnlySpan
	testinfra.Eventually(t, 10*time.Second, func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == "process "+h.config().Consumer && spanAttrs(sp)["ticket.id"] == tk.ID {
				failed = sp
				return true
			}
		}
		return false
	}, "no span for the failed event")
	if failed.Status().Code != codes.Error || failed.Status().Description != errCacheBug.Error() {
		t.Fatalf("failed apply's span status %v, want Error %q", failed.Status(), errCacheBug)
	}
	exception := false
	for _, e := range failed.Events() {
		exception = exception || e.Name == "exception"
	}
	if !exception {
		t.Fatalf("failed apply's span has no exception event: %v", failed.Events())
	}
	if a := spanAttrs(failed); a["messaging.system"] != "nats" || a["messaging.consumer.group.name"] != cfg.Consumer {
		t.Fatalf("failed apply's span attributes %v", a)
	}
}
