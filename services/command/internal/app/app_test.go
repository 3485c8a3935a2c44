package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// store keeps tickets in memory with the transaction semantics the use
// cases rely on: fn sees the current state, its error aborts.
type store struct {
	tickets map[string]ticket.Ticket
	outbox  []app.OutboxRecord
	keys    map[string]app.Idempotency
	created map[string]ticket.Ticket
}

func newStore() *store {
	return &store{tickets: map[string]ticket.Ticket{}, keys: map[string]app.Idempotency{}, created: map[string]ticket.Ticket{}}
}

func (s *store) Create(_ context.Context, t ticket.Ticket, rec app.OutboxRecord, idem *app.Idempotency) (*ticket.Ticket, error) {
	if idem != nil {
		k := idem.Subject + "\x00" + idem.Key
		if prev, ok := s.keys[k]; ok {
			if string(prev.RequestHash) != string(idem.RequestHash) {
				return nil, app.ErrIdempotencyMismatch
			}
			first := s.created[k]
			return &first, nil
		}
		s.keys[k], s.created[k] = *idem, t
	}
	s.tickets[t.ID] = t
	s.outbox = append(s.outbox, rec)
	return nil, nil
}

func (s *store) Update(_ context.Context, id string, fn app.UpdateFunc) (ticket.Ticket, error) {
	cur, ok := s.tickets[id]
	if !ok {
		return ticket.Ticket{}, ticket.ErrNotFound
	}
	next, rec, err := fn(cur)
	if err != nil {
		return ticket.Ticket{}, err
	}
	if rec != nil {
		s.tickets[id] = next
		s.outbox = append(s.outbox, *rec)
	}
	return next, nil
}

func (s *store) Delete(_ context.Context, id string, fn func(ticket.Ticket) (app.OutboxRecord, error)) error {
	cur, ok := s.tickets[id]
	if !ok {
		return ticket.ErrNotFound
	}
	rec, err := fn(cur)
	if err != nil {
		return err
	}
	delete(s.tickets, id)
	s.outbox = append(s.outbox, rec)
	return nil
}

func ptr[T any](v T) *T { return &v }

var alice = app.Actor{Subject: "alice", CorrelationID: "req-1"}

func TestCreate(t *testing.T) {
	t.Parallel()
	s := newStore()
	c := app.New(s, "/test")
	res, err := c.Create(t.Context(), alice, app.Patch{Title: ptr("printer")}, "")
	if err != nil {
		t.Fatal(err)
	}
	tk := res.Ticket
	if res.Replayed || tk.Version != 1 || tk.Status != ticket.StatusOpen || tk.Priority != ticket.PriorityMedium ||
		tk.Reporter != "alice" || tk.Tags == nil || !tk.CreatedAt.Equal(tk.UpdatedAt) {
		t.Fatalf("created %+v", res)
	}
	rec := s.outbox[0]
	ev, err := ticketevent.Unmarshal(rec.Headers[ticketevent.HeaderContentType], rec.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if ev.GetChange() != ticketevent.Created || ev.GetVersion() != 1 || ev.GetActor() != "alice" ||
		ev.GetCorrelationId() != "req-1" || ev.GetTicketId() != tk.ID || rec.Headers[ticketevent.HeaderSource] != "/test" {
		t.Fatalf("event %v headers %v", ev, rec.Headers)
	}
}

// The same key with the same request answers with the first ticket; with
// another body it is refused; another subject's key is its own.
func TestCreateIdempotent(t *testing.T) {
	t.Parallel()
	s := newStore()
	c := app.New(s, "/test")
	first, err := c.Create(t.Context(), alice, app.Patch{Title: ptr("a")}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Create(t.Context(), alice, app.Patch{Title: ptr("a")}, "k1")
	if err != nil || !again.Replayed || again.Ticket.ID != first.Ticket.ID {
		t.Fatalf("replay %+v %v", again, err)
	}
	if _, err := c.Create(t.Context(), alice, app.Patch{Title: ptr("b")}, "k1"); !errors.Is(err, app.ErrIdempotencyMismatch) {
		t.Fatalf("another body: %v", err)
	}
	bob, err := c.Create(t.Context(), app.Actor{Subject: "bob"}, app.Patch{Title: ptr("a")}, "k1")
	if err != nil || bob.Replayed {
		t.Fatalf("bob's key: %+v %v", bob, err)
	}
	if len(s.outbox) != 2 {
		t.Fatalf("%d events, want 2", len(s.outbox))
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	s := newStore()
	c := app.New(s, "/test")
	created, err := c.Create(t.Context(), alice, app.Patch{Title: ptr("a")}, "")
	if err != nil {
		t.Fatal(err)
	}
	id := created.Ticket.ID

	// A write that changes nothing: no new version, no event.
	same, err := c.Update(t.Context(), alice, id, app.Patch{Title: ptr("a")}, nil)
	if err != nil || same.Version != 1 || len(s.outbox) != 1 {
		t.Fatalf("no-op: v%d %v, %d events", same.Version, err, len(s.outbox))
	}
	// A stale If-Match: 412, nothing written.
	if _, err := c.Update(t.Context(), alice, id, app.Patch{Title: ptr("b")}, &app.Precondition{Versions: []int64{7}}); !errors.Is(err, ticket.ErrVersionConflict) {
		t.Fatalf("stale If-Match: %v", err)
	}
	// updated_at moves forward even when the clock stepped back.
	s.tickets[id] = func() ticket.Ticket { x := s.tickets[id]; x.UpdatedAt = time.Now().Add(time.Hour); return x }()
	next, err := c.Update(t.Context(), alice, id, app.Patch{Title: ptr("b")}, &app.Precondition{Versions: []int64{1}})
	if err != nil || next.Version != 2 || !next.UpdatedAt.After(s.tickets[id].CreatedAt) || len(s.outbox) != 2 {
		t.Fatalf("update: %+v %v", next, err)
	}
	if !next.UpdatedAt.After(time.Now()) {
		t.Fatalf("updated_at %v went back in time", next.UpdatedAt)
	}
	if _, err := c.Update(t.Context(), alice, "nope", app.Patch{}, nil); !errors.Is(err, ticket.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

// A delete is a change of its own: its event carries the next version.
func TestDelete(t *testing.T) {
	t.Parallel()
	s := newStore()
	c := app.New(s, "/test")
	created, err := c.Create(t.Context(), alice, app.Patch{Title: ptr("a")}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(t.Context(), alice, created.Ticket.ID, &app.Precondition{Versions: []int64{2}}); !errors.Is(err, ticket.ErrVersionConflict) {
		t.Fatalf("stale If-Match: %v", err)
	}
	if err := c.Delete(t.Context(), alice, created.Ticket.ID, &app.Precondition{Any: true}); err != nil {
		t.Fatal(err)
	}
	rec := s.outbox[len(s.outbox)-1]
	if rec.Version != 2 {
		t.Fatalf("delete event at v%d, want 2", rec.Version)
	}
}
