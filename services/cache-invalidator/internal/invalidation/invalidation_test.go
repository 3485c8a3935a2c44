package invalidation_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// cache records what the rule asks of it; its fence keeps the newest
// version, as the real one does.
type cache struct {
	mu       sync.Mutex
	versions map[string]int64
	deleted  map[string]bool
	calls    []string
	fail     error
}

func newCache() *cache { return &cache{versions: map[string]int64{}, deleted: map[string]bool{}} }

func (c *cache) record(call string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, call)
	return c.fail
}

func (c *cache) fence(id string, v int64, deleted bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.versions[id] >= v {
		return false
	}
	c.versions[id], c.deleted[id] = v, deleted
	return true
}

func (c *cache) SetTicket(_ context.Context, t ticket.Ticket) (bool, error) {
	if err := c.record("set " + t.ID); err != nil {
		return false, err
	}
	return c.fence(t.ID, t.Version, false), nil
}

func (c *cache) SetTombstone(_ context.Context, id string, v int64) (bool, error) {
	if err := c.record("tombstone " + id); err != nil {
		return false, err
	}
	return c.fence(id, v, true), nil
}

func (c *cache) DeleteTicket(_ context.Context, id string) error { return c.record("delete " + id) }

// Change records what SetTicket or SetTombstone and InvalidateLists would,
// in that order, as the real one does in one round trip.
func (c *cache) Change(ctx context.Context, id string, v int64, prev, next *ticket.Ticket) (bool, error) {
	var stored bool
	var err error
	if next != nil {
		stored, err = c.SetTicket(ctx, *next)
	} else {
		stored, err = c.SetTombstone(ctx, id, v)
	}
	if err != nil {
		return false, err
	}
	return stored, c.InvalidateLists(ctx, prev, next)
}

// InvalidateLists records the generation keys the change touches, as the
// real cache would bump them.
func (c *cache) InvalidateLists(_ context.Context, prev, next *ticket.Ticket) error {
	return c.record("bump " + strings.Join(ticketcache.Keys{}.AffectedGens(prev, next), ","))
}

func (c *cache) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

var quiet = slog.New(slog.DiscardHandler)

func tk(v int64, status, assignee string) ticket.Ticket {
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	return ticket.Ticket{ID: "t1", Title: "x", Status: status, Priority: "low", Assignee: assignee,
		Tags: []string{}, Version: v, CreatedAt: at, UpdatedAt: at}
}

func event(change eventsv1.Change, prev, next *ticket.Ticket, v int64) *eventsv1.TicketChanged {
	return ticketevent.New(ticketevent.Meta{EventID: "e", OccurredAt: time.Now()}, change, prev, next, v)
}

func TestApplyWritesTheTicketAndBumpsItsLists(t *testing.T) {
	t.Parallel()
	c := newCache()
	r := invalidation.New(c, 0, quiet)
	prev, next := tk(1, "open", "alice"), tk(2, "closed", "bob")
	stored, err := r.Apply(t.Context(), event(ticketevent.Updated, &prev, &next, 2))
	if err != nil || !stored {
		t.Fatalf("stored=%v err=%v", stored, err)
	}
	want := []string{"set t1", "bump " + strings.Join(ticketcache.Keys{}.AffectedGens(&prev, &next), ",")}
	if got := c.got(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
}

// Any order of delivery ends in the newest state: an older event replayed
// later is refused by the fence, and its lists are bumped anyway (harmless).
func TestApplyInAnyOrderEndsAtTheNewest(t *testing.T) {
	t.Parallel()
	c := newCache()
	r := invalidation.New(c, 0, quiet)
	v1, v2 := tk(1, "open", ""), tk(2, "open", "")
	if _, err := r.Apply(t.Context(), event(ticketevent.Updated, &v1, &v2, 2)); err != nil {
		t.Fatal(err)
	}
	stored, err := r.Apply(t.Context(), event(ticketevent.Created, nil, &v1, 1))
	if err != nil || stored {
		t.Fatalf("the older event: stored=%v err=%v", stored, err)
	}
	if c.versions["t1"] != 2 {
		t.Fatalf("version %d, want 2", c.versions["t1"])
	}
}

func TestApplyDeleteLeavesATombstone(t *testing.T) {
	t.Parallel()
	c := newCache()
	r := invalidation.New(c, 0, quiet)
	prev := tk(2, "open", "alice")
	if _, err := r.Apply(t.Context(), event(ticketevent.Deleted, &prev, nil, 3)); err != nil {
		t.Fatal(err)
	}
	if !c.deleted["t1"] || c.versions["t1"] != 3 {
		t.Fatalf("tombstone %v at v%d, want at v3", c.deleted["t1"], c.versions["t1"])
	}
	// Without its previous state, every list that can be named is bumped.
	c2 := newCache()
	if _, err := invalidation.New(c2, 0, quiet).Apply(t.Context(), event(ticketevent.Deleted, nil, nil, 3)); err != nil {
		t.Fatal(err)
	}
	if n := len(c2.got()); n != 1+4 {
		t.Fatalf("calls %v, want the tombstone and a bump per status", c2.got())
	}
}

func TestApplyFailsWithTheCache(t *testing.T) {
	t.Parallel()
	c := newCache()
	c.fail = errors.New("redis down")
	next := tk(1, "open", "")
	if _, err := invalidation.New(c, 0, quiet).Apply(t.Context(), event(ticketevent.Created, nil, &next, 1)); !errors.Is(err, c.fail) {
		t.Fatalf("%v", err)
	}
}

func TestPurgeDeletesWhatAnEventTouches(t *testing.T) {
	t.Parallel()
	c := newCache()
	next := tk(1, "open", "")
	if err := invalidation.New(c, 0, quiet).Purge(t.Context(), "t1", event(ticketevent.Created, nil, &next, 1)); err != nil {
		t.Fatal(err)
	}
	if got := c.got(); len(got) != 2 || got[0] != "delete t1" || !strings.HasPrefix(got[1], "bump ") {
		t.Fatalf("calls %v", got)
	}
	// An undecodable event: its ticket is unknown, the lists are bumped broadly.
	c2 := newCache()
	if err := invalidation.New(c2, 0, quiet).Purge(t.Context(), "", nil); err != nil {
		t.Fatal(err)
	}
	if got := c2.got(); len(got) != 4 {
		t.Fatalf("calls %v, want a bump per status", got)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	good := tk(1, "open", "")
	other := good
	other.ID = "t2"
	for _, tc := range []struct {
		ev *eventsv1.TicketChanged
		ok bool
	}{
		{event(ticketevent.Created, nil, &good, 1), true},
		{event(ticketevent.Deleted, &good, nil, 2), true},
		{event(ticketevent.Created, nil, nil, 1), false},
		{event(ticketevent.Created, nil, &good, 2), false},
		{func() *eventsv1.TicketChanged {
			e := event(ticketevent.Updated, nil, &good, 1)
			e.TicketId = other.ID
			return e
		}(), false},
		{event(eventsv1.Change_CHANGE_UNSPECIFIED, nil, &good, 1), false},
	} {
		err := invalidation.Check(tc.ev)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, invalidation.ErrInvalid)) {
			t.Errorf("%v %s v%d: %v, want ok=%v", tc.ev.GetChange(), tc.ev.GetTicketId(), tc.ev.GetVersion(), err, tc.ok)
		}
	}
}

// The delayed second bump happens after the delay, and Close runs the
// pending ones at once instead of losing them.
func TestRebump(t *testing.T) {
	t.Parallel()
	c := newCache()
	r := invalidation.New(c, time.Hour, quiet)
	next := tk(1, "open", "")
	if _, err := r.Apply(t.Context(), event(ticketevent.Created, nil, &next, 1)); err != nil {
		t.Fatal(err)
	}
	if n := len(c.got()); n != 2 {
		t.Fatalf("the second bump ran early: %v", c.got())
	}
	r.Close()
	if got := c.got(); len(got) != 3 || got[2] != got[1] {
		t.Fatalf("after Close %v, want the bump again", got)
	}

	c2 := newCache()
	r2 := invalidation.New(c2, 10*time.Millisecond, quiet)
	defer r2.Close()
	if _, err := r2.Apply(t.Context(), event(ticketevent.Created, nil, &next, 1)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(c2.got()) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the second bump never came: %v", c2.got())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
