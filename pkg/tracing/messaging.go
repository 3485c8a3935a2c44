package tracing

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// MessagingSystemNATS is messaging.system for NATS JetStream: the semantic
// conventions (v1.43.0, which the SDK follows) list no value for NATS, so
// the lower-case product name, as their other values are.
var MessagingSystemNATS = semconv.MessagingSystemKey.String("nats")

// Fail marks span as failed: err as an exception event and the Error
// status, which is what trace backends filter and colour on.
func Fail(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// MessageID is messaging.message.id for a message with the given
// Nats-Msg-Id (the event id); nothing when it is empty.
func MessageID(id string) []attribute.KeyValue {
	if id == "" {
		return nil
	}
	return []attribute.KeyValue{semconv.MessagingMessageID(id)}
}
