package ticketevent

import (
	"errors"
	"fmt"
	"mime"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Content types a consumer accepts.
const (
	ContentTypeJSON     = "application/json"
	ContentTypeProtobuf = "application/protobuf"
)

// ErrUnsupportedContentType marks a message no consumer can decode.
var ErrUnsupportedContentType = errors.New("unsupported content type")

var (
	marshalJSON   = protojson.MarshalOptions{UseProtoNames: true}
	unmarshalJSON = protojson.UnmarshalOptions{DiscardUnknown: true}
)

// Marshal encodes ev with the JSON mapping and proto field names, as the
// contract prescribes for the message body.
func Marshal(ev *eventsv1.TicketChanged) ([]byte, error) {
	b, err := marshalJSON.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	return b, nil
}

// Unmarshal decodes a body by its content type. Unknown fields are ignored so
// that producers can add fields without breaking older consumers.
func Unmarshal(contentType string, body []byte) (*eventsv1.TicketChanged, error) {
	mt := ContentTypeJSON
	if contentType != "" {
		parsed, _, err := mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedContentType, contentType)
		}
		mt = parsed
	}
	ev := &eventsv1.TicketChanged{}
	var err error
	switch mt {
	case ContentTypeJSON:
		err = unmarshalJSON.Unmarshal(body, ev)
	case ContentTypeProtobuf, "application/x-protobuf":
		err = proto.Unmarshal(body, ev)
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedContentType, contentType)
	}
	if err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if ev.GetEventId() == "" || ev.GetTicketId() == "" || ev.GetVersion() < 1 {
		return nil, errors.New("decode event: event_id, ticket_id and version are required")
	}
	// An unknown change name decodes to the zero value (DiscardUnknown): a
	// consumer cannot act on it, so it is an error, not a silent no-op.
	if ev.GetChange() == eventsv1.Change_CHANGE_UNSPECIFIED {
		return nil, errors.New("decode event: change is missing or unknown")
	}
	for _, ts := range []*timestamppb.Timestamp{ev.GetOccurredAt(),
		ev.GetTicket().GetCreatedAt(), ev.GetTicket().GetUpdatedAt(),
		ev.GetPrevious().GetCreatedAt(), ev.GetPrevious().GetUpdatedAt()} {
		if !validTime(ts) {
			return nil, fmt.Errorf("decode event: timestamp %v out of range", ts)
		}
	}
	return ev, nil
}

// validTime holds for an absent timestamp and for one the system could have
// written: protobuf's binary form carries any seconds, but neither JSON nor
// Postgres holds a year outside 1-9999, so such an event could never be
// applied or re-published.
func validTime(ts *timestamppb.Timestamp) bool {
	if ts == nil {
		return true
	}
	if ts.CheckValid() != nil {
		return false
	}
	y := ts.AsTime().Year()
	return y >= 1 && y <= 9999
}
