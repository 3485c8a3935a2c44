package ticketevent_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func sample() (ticket.Ticket, ticket.Ticket) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	prev := ticket.Ticket{ID: "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", Title: "a", Status: "open", Priority: "low",
		Assignee: "alice", Reporter: "bob", Tags: []string{"x"}, Version: 1, CreatedAt: at, UpdatedAt: at}
	next := prev.Clone()
	next.Title, next.Tags, next.Version, next.UpdatedAt = "b", []string{"x", "y"}, 2, at.Add(time.Second)
	return prev, next
}

func TestNewAndRoundTrip(t *testing.T) {
	t.Parallel()
	prev, next := sample()
	ev := ticketevent.New(ticketevent.Meta{EventID: "e1", Actor: "bob", CorrelationID: "r1", OccurredAt: next.UpdatedAt},
		ticketevent.Updated, &prev, &next, 2)
	if got := ev.GetChangedFields(); len(got) != 2 || got[0] != "title" || got[1] != "tags" {
		t.Fatalf("changed fields %v", got)
	}
	b, err := ticketevent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ticketevent.Unmarshal("application/json", b)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(ev, back) {
		t.Fatalf("JSON round trip differs:\n%v\n%v", ev, back)
	}
	bin, err := proto.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err = ticketevent.Unmarshal("application/protobuf", bin)
	if err != nil || !proto.Equal(ev, back) {
		t.Fatalf("protobuf round trip: %v", err)
	}
	got := ticketevent.FromProto(back.GetTicket())
	if got.Title != next.Title || !got.UpdatedAt.Equal(next.UpdatedAt) || len(got.Tags) != 2 {
		t.Fatalf("FromProto %+v", got)
	}
}

func TestDeleteAndCreateShapes(t *testing.T) {
	t.Parallel()
	prev, next := sample()
	del := ticketevent.New(ticketevent.Meta{EventID: "e2", OccurredAt: time.Now()}, ticketevent.Deleted, &prev, nil, 2)
	if del.GetTicket() != nil || del.GetTicketId() != prev.ID || del.GetPrevious() == nil || len(del.GetChangedFields()) != 0 {
		t.Fatalf("delete event %v", del)
	}
	cr := ticketevent.New(ticketevent.Meta{EventID: "e3", OccurredAt: time.Now()}, ticketevent.Created, nil, &next, 1)
	if cr.GetPrevious() != nil || cr.GetTicketId() != next.ID {
		t.Fatalf("create event %v", cr)
	}
	h := ticketevent.Headers(cr, "/src")
	if h["Nats-Msg-Id"] != "e3" || h["ce-id"] != "e3" || h["ce-subject"] != next.ID || h["ce-source"] != "/src" {
		t.Fatalf("headers %v", h)
	}
	// The media type as the NATS binding names it, and as the contract does.
	if h["ce-datacontenttype"] != "application/json" || h["content-type"] != "application/json" {
		t.Fatalf("headers %v", h)
	}
	nh := ticketevent.NATSHeader(h)
	if nh.Get("ce-type") != ticketevent.EventType || len(nh["ce-type"]) != 1 {
		t.Fatalf("nats header %v", nh)
	}
}

func TestContentType(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		h    nats.Header
		want string
	}{
		{"both, as sent", nats.Header{"ce-datacontenttype": {"application/json"}, "content-type": {"application/json"}}, "application/json"},
		{"ce-datacontenttype first", nats.Header{"ce-datacontenttype": {"application/protobuf"}, "content-type": {"application/json"}}, "application/protobuf"},
		{"binding's name only", nats.Header{"ce-datacontenttype": {"application/protobuf"}}, "application/protobuf"},
		{"older messages", nats.Header{"content-type": {"application/protobuf"}}, "application/protobuf"},
		{"canonicalised", nats.Header{"Content-Type": {"application/protobuf"}}, "application/protobuf"},
		{"canonicalised binding name", nats.Header{"Ce-Datacontenttype": {"application/protobuf"}, "content-type": {"application/json"}}, "application/json"},
		{"empty value skipped", nats.Header{"ce-datacontenttype": {""}, "Content-Type": {"application/protobuf"}}, "application/protobuf"},
		{"none", nats.Header{"ce-type": {ticketevent.EventType}}, ""},
		{"nil", nil, ""},
	}
	for _, tc := range cases {
		if got := ticketevent.ContentType(tc.h); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ct   string
		body string
	}{
		"text":            {"text/plain", `{}`},
		"bad media type":  {"application/", `{}`},
		"not json":        {"application/json", `{"event_id":`},
		"missing ids":     {"application/json", `{"version":"1"}`},
		"bad protobuf":    {"application/protobuf", "\xff\xff\xff"},
		"zero version":    {"", `{"event_id":"e","ticket_id":"t"}`},
		"wrong enum name": {"application/json", `{"event_id":"e","ticket_id":"t","version":"1","change":"EXPLODED"}`},
	}
	for name, tc := range cases {
		if _, err := ticketevent.Unmarshal(tc.ct, []byte(tc.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	_, err := ticketevent.Unmarshal("text/plain", nil)
	if !errors.Is(err, ticketevent.ErrUnsupportedContentType) {
		t.Fatalf("err %v", err)
	}
	// Unknown fields from newer producers are ignored.
	if _, err := ticketevent.Unmarshal("application/json",
		[]byte(`{"event_id":"e","ticket_id":"t","version":"3","change":"UPDATED","future_field":1}`)); err != nil {
		t.Fatal(err)
	}
}

func TestStreamConfig(t *testing.T) {
	t.Parallel()
	o := ticketevent.StreamOptions{Name: "TICKETS", SubjectPrefix: "tickets.changed", Replicas: 3, MaxAge: time.Hour}
	c := o.Config()
	if c.Subjects[0] != "tickets.changed.>" || c.Duplicates != 2*time.Minute || c.Replicas != 3 || c.MaxAge != time.Hour {
		t.Fatalf("config %+v", c)
	}
	if o.Subject("abc") != "tickets.changed.abc" {
		t.Fatal(o.Subject("abc"))
	}
	// The DLQ's bounds reach the stream, oldest dropped first.
	d := ticketevent.StreamOptions{Name: "TICKETS_DLQ", SubjectPrefix: "tickets.dlq", MaxMsgs: 10, MaxBytes: 1 << 20}.DLQConfig()
	if d.MaxMsgs != 10 || d.MaxBytes != 1<<20 || d.Discard != jetstream.DiscardOld {
		t.Fatalf("dlq config %+v", d)
	}
	if c.MaxMsgs != 0 || c.MaxBytes != 0 {
		t.Fatalf("unbounded options gave limits: %+v", c)
	}
}
