package ticketevent_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// FuzzUnmarshal feeds arbitrary bodies and content types to Unmarshal. It
// never panics; an accepted event has what Unmarshal promises (ids, a
// version, a known change), and re-marshalled it decodes to an equal
// event, in the JSON of the contract and in protobuf.
func FuzzUnmarshal(f *testing.F) {
	prev, next := sample()
	meta := ticketevent.Meta{EventID: "e1", Actor: "bob", CorrelationID: "r1", OccurredAt: next.UpdatedAt}
	for _, ev := range []*eventsv1.TicketChanged{
		ticketevent.New(meta, ticketevent.Updated, &prev, &next, 2),
		ticketevent.New(meta, ticketevent.Created, nil, &prev, 1),
		ticketevent.New(meta, ticketevent.Deleted, &next, nil, 3),
		{EventId: "e", TicketId: "t", Version: 1, Change: eventsv1.Change(7)},
		{EventId: "e", TicketId: "t", Version: 1, Change: ticketevent.Created,
			OccurredAt: &timestamppb.Timestamp{Seconds: 1 << 62, Nanos: -1}},
	} {
		if j, err := ticketevent.Marshal(ev); err == nil {
			f.Add(ticketevent.ContentTypeJSON, j)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ticketevent.ContentTypeProtobuf, b)
	}
	const minimal = `"event_id":"e","ticket_id":"t","version":1,"change":"DELETED"`
	for _, s := range []struct{ ct, body string }{
		{"", `{` + minimal + `}`},
		{"application/json; charset=utf-8", `{` + minimal + `,"unknown":{"deep":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}}`},
		{"Application/JSON", `{` + minimal + `,"eventId":"e2"}`},
		{"application/json", `{` + minimal + `,"event_id":"e2"}`},
		{"application/json", `{"EVENT_ID":"e","ticket_id":"t","version":1,"change":"DELETED"}`},
		{"application/json", `{"event_id":"e\u0000","ticket_id":"\ud800","version":"1","change":3}`},
		{"application/json", "{\"event_id\":\"\xff\",\"ticket_id\":\"t\",\"version\":1,\"change\":\"DELETED\"}"},
		{"application/json", `{"event_id":"e","ticket_id":"t","version":1e3,"change":"created"}`},
		{"application/json", `{"event_id":"e","ticket_id":"t","version":99999999999999999999,"change":"DELETED"}`},
		{"application/json", `{` + minimal + `,"occurred_at":"9999-12-31T23:59:59-23:59"}`},
		{"application/json", `{` + minimal + `,"occurred_at":"0001-01-01T00:00:00+01:00"}`},
		{"application/json", `{"event_id":"e","ticket_id":"t","version":1,"change":"UPDATED","ticket":{"id":"t","version":1,"tags":[null]}}`},
		{"application/x-protobuf", "\x0a\x01e\x12\x01t\x18\x01\x20\x03\xfa\xff\xff\xff\x0f\x00"},
		{"application/protobuf", "\x0a\x01e\x12\x01t\x18\x01\x20\x03\x2a\x0c\x08\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x10\x01"},
		{"application/protobuf", "\x0a\x02\xff\xfe\x12\x01t\x18\x01\x20\x03"},
		{"text/plain", `{` + minimal + `}`},
		{"application/json;;", `{` + minimal + `}`},
		{"application/json", strings.Repeat("[", 10000)},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		ev, err := ticketevent.Unmarshal(contentType, body)
		if err != nil {
			if ev != nil {
				t.Fatalf("error %v with an event", err)
			}
			return
		}
		if ev.GetEventId() == "" || ev.GetTicketId() == "" || ev.GetVersion() < 1 ||
			ev.GetChange() == eventsv1.Change_CHANGE_UNSPECIFIED {
			t.Fatalf("accepted %v", ev)
		}
		// JSON, the contract's body: unknown fields are dropped by design.
		j, err := ticketevent.Marshal(ev)
		if err != nil {
			t.Fatalf("accepted %v, which does not marshal: %v", ev, err)
		}
		back, err := ticketevent.Unmarshal(ticketevent.ContentTypeJSON, j)
		if err != nil {
			t.Fatalf("accepted %v, marshalled as %s, which does not decode: %v", ev, j, err)
		}
		want := proto.Clone(ev)
		dropUnknown(want.ProtoReflect())
		if !proto.Equal(want, back) {
			t.Fatalf("JSON round trip differs:\n%v\n%v", want, back)
		}
		// Protobuf keeps even the unknown fields.
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatalf("accepted %v, which does not marshal: %v", ev, err)
		}
		back, err = ticketevent.Unmarshal(ticketevent.ContentTypeProtobuf, b)
		if err != nil || !proto.Equal(ev, back) {
			t.Fatalf("protobuf round trip: %v\n%v\n%v", err, ev, back)
		}
	})
}

// dropUnknown clears the unknown fields of m and of every message in it,
// as the JSON mapping does.
func dropUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				dropUnknown(v.List().Get(i).Message())
			}
		default:
			dropUnknown(v.Message())
		}
		return true
	})
}
