package service_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/service"
)

// afterRead is the Postgres store with a hook that runs right after each
// read returns, before the query service does anything with it: the moment
// a writer can overtake a slow reader.
type afterRead struct {
	app.Store
	ticket func(ctx context.Context, id string)
	list   func(ctx context.Context, q app.ListQuery)
}

func (s afterRead) Ticket(ctx context.Context, id string) (app.Row, error) {
	r, err := s.Store.Ticket(ctx, id)
	if s.ticket != nil {
		s.ticket(ctx, id)
	}
	return r, err
}

func (s afterRead) List(ctx context.Context, q app.ListQuery) ([]ticket.Ticket, error) {
	r, err := s.Store.List(ctx, q)
	if s.list != nil {
		s.list(ctx, q)
	}
	return r, err
}

func withAfterRead(hooks afterRead) []service.Option {
	return []service.Option{service.WithStore(func(s app.Store) app.Store {
		hooks.Store = s
		return hooks
	})}
}

// The stale set, forced: a reader misses and reads v1 from Postgres; before
// it writes to Redis, a writer commits v2 and the invalidator caches v2. The
// reader's write of v1 must be refused, and the next read serve v2.
func TestNoStaleSetForTicket(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	v1 := h.insert(ticket.Ticket{Title: "v1"})
	var (
		once sync.Once
		v2   ticket.Ticket
	)
	h.start(withAfterRead(afterRead{
		ticket: func(ctx context.Context, _ string) {
			once.Do(func() {
				v2 = h.update(v1, "v2")
				if stored, err := h.cache.SetTicket(ctx, v2); err != nil || !stored {
					t.Errorf("invalidator's refresh: stored=%v err=%v", stored, err)
				}
			})
		},
	}))

	r := h.get("/tickets/" + v1.ID)
	mustStatus(t, r, http.StatusOK)
	mustCache(t, r, "MISS")
	if string(r.body) != apiJSON(t, v1) {
		t.Fatalf("the slow reader answers what it read: %s", r.body)
	}
	r = h.get("/tickets/" + v1.ID)
	mustCache(t, r, "HIT")
	if string(r.body) != apiJSON(t, v2) || r.header.Get("ETag") != `"2"` {
		t.Fatalf("after the race the cache holds %s (ETag %s), want v2", r.body, r.header.Get("ETag"))
	}
	if got := h.metric(`ticketsys_cache_stale_writes_refused_total{kind="ticket"}`); !strings.HasSuffix(got, " 1") {
		t.Fatalf("refusal not counted: %q", got)
	}
}

// The same for a tombstone: a delete cached while a reader holds the live
// row keeps the ticket deleted.
func TestNoStaleSetOverTombstone(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	live := h.insert(ticket.Ticket{Title: "live"})
	var once sync.Once
	h.start(withAfterRead(afterRead{
		ticket: func(ctx context.Context, id string) {
			once.Do(func() {
				v := h.softDelete(live)
				if stored, err := h.cache.SetTombstone(ctx, id, v); err != nil || !stored {
					t.Errorf("tombstone: stored=%v err=%v", stored, err)
				}
			})
		},
	}))
	mustStatus(t, h.get("/tickets/"+live.ID), http.StatusOK)
	r := h.get("/tickets/" + live.ID)
	mustStatus(t, r, http.StatusNotFound)
	mustCache(t, r, "HIT")
	if got := h.metric(`ticketsys_cache_stale_writes_refused_total{kind="ticket"}`); !strings.HasSuffix(got, " 1") {
		t.Fatalf("refusal not counted: %q", got)
	}
}

// For a list page: the reader reads its page from Postgres; right after, a
// ticket is created and the lists' generation bumped; the reader then stores
// its page. Reading the generation before Postgres puts that page under the
// old generation, which nobody reads again: the next read is a miss, with
// the new ticket. (A generation read after Postgres would find the new one
// and serve the stale page as a hit.)
func TestNoStaleSetForList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	old := h.insert(ticket.Ticket{Title: "old"})
	var (
		once    sync.Once
		added   ticket.Ticket
		hookRan bool
	)
	h.start(withAfterRead(afterRead{
		list: func(ctx context.Context, _ app.ListQuery) {
			once.Do(func() {
				hookRan = true
				added = h.insert(ticket.Ticket{Title: "added"})
				if err := h.cache.InvalidateLists(ctx, nil, &added); err != nil {
					t.Errorf("invalidate: %v", err)
				}
			})
		},
	}))

	r := h.get("/tickets")
	mustCache(t, r, "MISS")
	if got := decodeList(t, r); !hookRan || len(got.Items) != 1 || got.Items[0].ID != old.ID {
		t.Fatalf("first read %s (hook ran: %v)", ids(got.Items), hookRan)
	}
	// The stale page was written, under a generation nobody reads any more.
	q := ticketcache.ListQuery{SortBy: "created_at", Order: "desc", Limit: 50}
	current, err := h.cache.Generation(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	iter := h.rdb.Scan(t.Context(), 0, h.keys.ListPrefix()+"*", 100).Iterator()
	for iter.Next(t.Context()) {
		pages = append(pages, iter.Val())
	}
	if len(pages) != 1 {
		t.Fatalf("pages %v: the stale page was not written at all, and the test proves nothing", pages)
	}
	if _, gen, ok := h.keys.ParseList(pages[0]); !ok || gen >= current {
		t.Fatalf("the stale page %s is not under a generation before the current g%d", pages[0], current)
	}
	r = h.get("/tickets")
	mustCache(t, r, "MISS")
	got := decodeList(t, r)
	if len(got.Items) != 2 || got.Items[0].ID != added.ID {
		t.Fatalf("after the race: %s", ids(got.Items))
	}
	mustCache(t, h.get("/tickets"), "HIT")
}
