package relay

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// tracerName names the relay's spans. The tracer is looked up per message,
// not once at start, so it always belongs to the current global provider.
const tracerName = "github.com/ticketsys/ticketsys/services/command/internal/relay"

// startPublish starts the PRODUCER span of one message, from its publish
// to JetStream's acknowledgement, in the trace of the write whose
// traceparent the outbox row carries (a trace of its own without one). The
// message keeps the writer's traceparent, so the consumer's span is the
// write's child too, beside this one. nil with tracing off: even a no-op
// span costs the hot path something.
func (r *Relay) startPublish(ctx context.Context, msg *nats.Msg, x row) trace.Span {
	if !tracing.On() {
		return nil
	}
	attrs := append([]attribute.KeyValue{
		tracing.MessagingSystemNATS,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("publish"),
		semconv.MessagingDestinationName(msg.Subject),
		semconv.MessagingMessageBodySize(len(msg.Data)),
		attribute.String("ticket.id", x.ticketID),
	}, tracing.MessageID(x.headers[jetstream.MsgIDHeader])...)
	_, span := otel.Tracer(tracerName).Start(tracing.Extract(ctx, msg.Header), "publish "+r.cfg.Stream.Name,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
	return span
}

// endPublish ends a publish span (nil: none): failed when err is not nil,
// with JetStream's answer otherwise.
func endPublish(span trace.Span, ack *jetstream.PubAck, err error) {
	if span == nil {
		return
	}
	switch {
	case err != nil:
		tracing.Fail(span, err)
	case ack != nil:
		// Outside the messaging.* namespace, which the conventions own.
		span.SetAttributes(attribute.Int64("nats.stream.sequence", int64(ack.Sequence)), //nolint:gosec // a stream sequence is far below 2^63
			attribute.Bool("nats.duplicate", ack.Duplicate))
	}
	span.End()
}

// errAbandoned ends the spans of publishes whose outcome nobody waits for.
var errAbandoned = errors.New("publish abandoned: the relay is stopping")
