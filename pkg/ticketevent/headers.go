package ticketevent

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// CloudEvents 1.0 binary-mode header names for NATS, and their fixed values.
const (
	HeaderID          = "ce-id"
	HeaderSpecVersion = "ce-specversion"
	HeaderType        = "ce-type"
	HeaderSource      = "ce-source"
	HeaderSubject     = "ce-subject"
	HeaderTime        = "ce-time"
	HeaderContentType = "content-type"
	HeaderTraceparent = "traceparent"

	SpecVersion = "1.0"
	EventType   = "tickets.ticket.changed.v1"
)

// Headers are the message headers of ev, stored with its outbox row so the
// relay sends exactly what the writer decided. Nats-Msg-Id equals ce-id:
// JetStream drops a republished row as a duplicate.
func Headers(ev *eventsv1.TicketChanged, source string) map[string]string {
	return map[string]string{
		jetstream.MsgIDHeader: ev.GetEventId(),
		HeaderID:              ev.GetEventId(),
		HeaderSpecVersion:     SpecVersion,
		HeaderType:            EventType,
		HeaderSource:          source,
		HeaderSubject:         ev.GetTicketId(),
		HeaderTime:            ev.GetOccurredAt().AsTime().UTC().Format(time.RFC3339Nano),
		HeaderContentType:     ContentTypeJSON,
	}
}

// NATSHeader converts stored headers to a message header.
func NATSHeader(h map[string]string) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		// Set, not Add: nats.Header canonicalises keys like net/http unless
		// assigned directly, and the contract's names are lower-case.
		out[k] = []string{v}
	}
	return out
}
