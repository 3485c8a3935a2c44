package ticketevent

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// CloudEvents 1.0 binary-mode header names for NATS, and their fixed values.
//
// The data's media type travels twice, with the same value. The NATS
// protocol binding maps every attribute to ce-<name>, datacontenttype too:
// HeaderDataContentType. The contract names content-type, which the
// CloudEvents Go SDK's NATS bindings also read (by that exact, lower-case
// spelling) and which older consumers of this project read: HeaderContentType.
// Readers use ContentType, which takes either.
const (
	HeaderID              = "ce-id"
	HeaderSpecVersion     = "ce-specversion"
	HeaderType            = "ce-type"
	HeaderSource          = "ce-source"
	HeaderSubject         = "ce-subject"
	HeaderTime            = "ce-time"
	HeaderDataContentType = "ce-datacontenttype"
	HeaderContentType     = "content-type"
	HeaderTraceparent     = "traceparent"

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
		HeaderDataContentType: ContentTypeJSON,
		HeaderContentType:     ContentTypeJSON,
	}
}

// ContentType is the media type of a message's body: ce-datacontenttype,
// else content-type. Messages published before ce-datacontenttype was added
// carry only content-type, and a publisher that let its library
// canonicalise header names sends Content-Type, so either name is also
// matched in any case. "" when none is set (Unmarshal then reads JSON).
func ContentType(h nats.Header) string {
	for _, name := range []string{HeaderDataContentType, HeaderContentType} {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	keys := slices.Sorted(maps.Keys(h)) // one answer when several spellings differ
	for _, name := range []string{HeaderDataContentType, HeaderContentType} {
		for _, k := range keys {
			if v := h[k]; len(v) > 0 && v[0] != "" && strings.EqualFold(k, name) {
				return v[0]
			}
		}
	}
	return ""
}

// NATSHeader converts stored headers to a message header.
func NATSHeader(h map[string]string) nats.Header {
	out := make(nats.Header, len(h))
	for k, v := range h {
		// Assigned as is: the names are lower-case on the wire, and the
		// CloudEvents SDK matches them case-sensitively (ce-*, content-type).
		out[k] = []string{v}
	}
	return out
}
