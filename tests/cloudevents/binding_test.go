package cloudevents

import (
	"context"
	"testing"
	"time"

	cejetstream "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// TestBindingContentTypeHeaders pins down which header the SDK's binding
// maps to datacontenttype. The NATS protocol binding names it
// ce-datacontenttype, like every other attribute; the SDK (v2.16.2) reads
// that and also a header spelled exactly content-type, and matches names
// case-sensitively, so Content-Type is not read. The system sends both
// spellings the SDK reads (pkg/ticketevent), and its own readers take all
// three (ticketevent.ContentType).
func TestBindingContentTypeHeaders(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"ce-specversion": "1.0", "ce-id": "e1", "ce-type": ticketevent.EventType,
		"ce-source": eventSource, "ce-subject": "t1",
	}
	for _, tc := range []struct {
		header string
		want   string // what the SDK reads as datacontenttype
	}{
		{"ce-datacontenttype", ticketevent.ContentTypeJSON}, // the binding spec's name
		{"content-type", ticketevent.ContentTypeJSON},       // the contract's name
		{"Content-Type", ""},                                // canonical form: not read
	} {
		h := nats.Header{}
		for k, v := range base {
			h[k] = []string{v}
		}
		h[tc.header] = []string{ticketevent.ContentTypeJSON}
		ev, err := binding.ToEvent(context.Background(), cejetstream.NewMessage(&nats.Msg{Header: h, Data: []byte(`{}`)}))
		if err != nil {
			t.Fatalf("%s: %v", tc.header, err)
		}
		if got := ev.DataContentType(); got != tc.want {
			t.Errorf("%s: datacontenttype %q, want %q", tc.header, got, tc.want)
		}
		if got := ticketevent.ContentType(h); got != ticketevent.ContentTypeJSON {
			t.Errorf("%s: ticketevent.ContentType %q, want %q", tc.header, got, ticketevent.ContentTypeJSON)
		}
	}
}

// TestBindingReadsHeaders reads the headers ticketevent.Headers makes, as
// the relay sends them, without a server: every attribute must come
// through, and each header the SDK reads must be one the system sets.
func TestBindingReadsHeaders(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	ev := &eventsv1.TicketChanged{EventId: "0193a-e1", TicketId: "0193a-t1", Version: 1, Change: ticketevent.Created}
	ev.OccurredAt = timestamppb.New(at)
	h := ticketevent.NATSHeader(ticketevent.Headers(ev, eventSource))
	body, err := ticketevent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	m := cejetstream.NewMessage(&nats.Msg{Header: h, Data: body})
	checkEvent(t, m, ev.GetTicketId(), ticketevent.Created, 1)
	if got, want := h.Get(ticketevent.HeaderDataContentType), ticketevent.ContentTypeJSON; got != want {
		t.Errorf("%s %q, want %q", ticketevent.HeaderDataContentType, got, want)
	}
	if got, want := h.Get(ticketevent.HeaderContentType), ticketevent.ContentTypeJSON; got != want {
		t.Errorf("%s %q, want %q", ticketevent.HeaderContentType, got, want)
	}
}
