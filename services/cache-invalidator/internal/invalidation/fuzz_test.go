package invalidation_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// encodingCache does what the real cache does before it talks to Redis:
// it encodes the ticket (or the tombstone) it is asked to store.
type encodingCache struct {
	id      string
	version int64
	stored  *ticket.Ticket
}

func (c *encodingCache) SetTicket(context.Context, ticket.Ticket) (bool, error) {
	return false, errors.New("Apply calls Change")
}

func (c *encodingCache) SetTombstone(_ context.Context, id string, version int64) (bool, error) {
	c.id, c.version = id, version
	_, err := json.Marshal(struct {
		ID      string `json:"id"`
		Version int64  `json:"version"`
		Deleted bool   `json:"deleted"`
	}{id, version, true})
	return true, err
}

func (c *encodingCache) DeleteTicket(context.Context, string) error { return nil }

func (c *encodingCache) InvalidateLists(context.Context, *ticket.Ticket, *ticket.Ticket) error {
	return nil
}

func (c *encodingCache) Change(ctx context.Context, id string, version int64, _, next *ticket.Ticket) (bool, error) {
	if next == nil {
		return c.SetTombstone(ctx, id, version)
	}
	c.id, c.version, c.stored = id, version, next
	_, err := json.Marshal(next)
	return true, err
}

// FuzzDecodeAndCheck runs what the worker runs on a delivery, Unmarshal and
// Check, on arbitrary bodies. It never panics; Check refuses only with
// ErrInvalid; an event that passes both carries a snapshot of the ticket at
// the event's version (create, update) and can be applied: the cache can
// encode what it is asked to store, so the event is not retried in vain.
func FuzzDecodeAndCheck(f *testing.F) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	prev := tk(1, "open", "alice")
	prev.CreatedAt, prev.UpdatedAt = at, at
	next := tk(2, "closed", "bob")
	next.CreatedAt, next.UpdatedAt = at, at.Add(time.Second)
	bad := &timestamppb.Timestamp{Seconds: 1 << 62}
	for _, ev := range []*eventsv1.TicketChanged{
		event(ticketevent.Created, nil, &prev, 1),
		event(ticketevent.Updated, &prev, &next, 2),
		event(ticketevent.Deleted, &next, nil, 3),
		event(ticketevent.Deleted, nil, nil, 3),
		{EventId: "e", TicketId: prev.ID, Version: 2, Change: ticketevent.Updated,
			Ticket: &eventsv1.Ticket{Id: prev.ID, Version: 1}},
		{EventId: "e", TicketId: prev.ID, Version: 1, Change: ticketevent.Created,
			Ticket: &eventsv1.Ticket{Id: "other", Version: 1}},
		{EventId: "e", TicketId: prev.ID, Version: 1, Change: eventsv1.Change(9)},
		{EventId: "e", TicketId: prev.ID, Version: 1, Change: ticketevent.Created,
			Ticket: &eventsv1.Ticket{Id: prev.ID, Version: 1, CreatedAt: bad, UpdatedAt: bad}},
	} {
		ev.EventId = "e1"
		if j, err := ticketevent.Marshal(ev); err == nil {
			f.Add(ticketevent.ContentTypeJSON, j)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ticketevent.ContentTypeProtobuf, b)
	}
	for _, body := range []string{
		`{"event_id":"e","ticket_id":"t","version":1,"change":"UPDATED"}`,
		`{"event_id":"e","ticket_id":"t","version":1,"change":"CREATED","ticket":{}}`,
		`{"event_id":"e","ticket_id":"t","version":1,"change":"CREATED","ticket":{"id":"T","version":1}}`,
		`{"event_id":"e","ticket_id":"t:{x}","version":9223372036854775807,"change":"UPDATED",` +
			`"ticket":{"id":"t:{x}","version":"9223372036854775807","created_at":"0001-01-01T00:00:00Z"}}`,
		`{"event_id":"e","ticket_id":"t","version":1,"change":"DELETED","previous":{"status":"\u0000","assignee":"None"}}`,
	} {
		f.Add(ticketevent.ContentTypeJSON, []byte(body))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		ev, err := ticketevent.Unmarshal(contentType, body)
		if err != nil {
			return
		}
		if err := invalidation.Check(ev); err != nil {
			if !errors.Is(err, invalidation.ErrInvalid) {
				t.Fatalf("Check: %v", err)
			}
			return
		}
		switch ev.GetChange() {
		case ticketevent.Created, ticketevent.Updated:
			if ev.GetTicket() == nil || ev.GetTicket().GetId() != ev.GetTicketId() ||
				ev.GetTicket().GetVersion() != ev.GetVersion() {
				t.Fatalf("passed Check: %v", ev)
			}
		case ticketevent.Deleted:
		default:
			t.Fatalf("change %v passed Check", ev.GetChange())
		}
		c := &encodingCache{}
		if _, err := invalidation.New(c, 0, quiet).Apply(context.Background(), ev); err != nil {
			t.Fatalf("passed Check, yet cannot be applied (it would be retried, not dead-lettered): %v\n%v", err, ev)
		}
		if c.id != ev.GetTicketId() || c.version != ev.GetVersion() ||
			(ev.GetChange() != ticketevent.Deleted && (c.stored == nil || c.stored.Version != ev.GetVersion())) {
			t.Fatalf("applied as %q v%d %+v: %v", c.id, c.version, c.stored, ev)
		}
	})
}
