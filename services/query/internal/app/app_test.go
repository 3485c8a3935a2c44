package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// store is Postgres in memory; reads counts its queries.
type store struct {
	mu    sync.Mutex
	rows  map[string]app.Row
	list  []ticket.Ticket
	reads int
	err   error
}

func (s *store) Ticket(_ context.Context, id string) (app.Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.err != nil {
		return app.Row{}, s.err
	}
	r, ok := s.rows[id]
	if !ok {
		return r, ticket.ErrNotFound
	}
	return r, nil
}

func (s *store) List(_ context.Context, q app.ListQuery) ([]ticket.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.list[:min(q.Limit, len(s.list))], s.err
}

// cache is Redis in memory with the version fence; down makes every call fail.
type cache struct {
	mu      sync.Mutex
	entries map[string]ticketcache.Entry
	lists   map[string][]byte
	gens    map[string]int64
	down    bool
}

var errDown = errors.New("redis down")

func newCache() *cache {
	return &cache{entries: map[string]ticketcache.Entry{}, lists: map[string][]byte{}, gens: map[string]int64{}}
}

func (c *cache) Keys() ticketcache.Keys { return ticketcache.Keys{} }

func (c *cache) GetTicket(_ context.Context, id string) (ticketcache.Entry, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return ticketcache.Entry{}, false, errDown
	}
	e, ok := c.entries[id]
	return e, ok, nil
}

func (c *cache) set(id string, e ticketcache.Entry) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return false, errDown
	}
	if cur, ok := c.entries[id]; ok && cur.Version >= e.Version {
		return false, nil
	}
	c.entries[id] = e
	return true, nil
}

func (c *cache) SetTicket(_ context.Context, t ticket.Ticket) (bool, error) {
	b, _ := json.Marshal(t)
	return c.set(t.ID, ticketcache.Entry{JSON: b, Version: t.Version})
}

func (c *cache) SetTombstone(_ context.Context, id string, v int64) (bool, error) {
	return c.set(id, ticketcache.Entry{Version: v, Deleted: true})
}

func (c *cache) Generation(_ context.Context, q ticketcache.ListQuery) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return 0, errDown
	}
	return c.gens[c.Keys().Gen(q.Status, q.Assignee)], nil
}

func (c *cache) GenerationAndList(ctx context.Context, q ticketcache.ListQuery, _ int64) (int64, string, []byte, bool, error) {
	gen, err := c.Generation(ctx, q)
	if err != nil {
		return 0, "", nil, false, err
	}
	key := c.Keys().List(q, gen)
	b, found, err := c.GetList(ctx, key)
	return gen, key, b, found, err
}

func (c *cache) GetList(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, false, errDown
	}
	b, ok := c.lists[key]
	return b, ok, nil
}

func (c *cache) SetList(_ context.Context, key string, b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errDown
	}
	c.lists[key] = b
	return nil
}

func newQueries(t *testing.T, s *store, c *cache) *app.Queries {
	t.Helper()
	m, err := app.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return app.New(s, c, cursor.NewCodec([]byte("0123456789abcdef0123456789abcdef")), slog.New(slog.DiscardHandler), m)
}

func row(id string, v int64, deleted bool) app.Row {
	at := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	return app.Row{Ticket: ticket.Ticket{ID: id, Title: "t", Status: "open", Priority: "low", Tags: []string{},
		Version: v, CreatedAt: at, UpdatedAt: at}, Deleted: deleted}
}

// A miss reads Postgres and fills the cache; the next read is a hit.
func TestTicketMissThenHit(t *testing.T) {
	t.Parallel()
	s := &store{rows: map[string]app.Row{"a": row("a", 3, false)}}
	c := newCache()
	q := newQueries(t, s, c)
	for _, want := range []app.Source{app.Miss, app.Hit} {
		res, err := q.Ticket(t.Context(), "a")
		if err != nil || !res.Found || res.Version != 3 || res.Source != want {
			t.Fatalf("%+v %v, want %s", res, err, want)
		}
	}
	if s.reads != 1 {
		t.Fatalf("%d Postgres reads, want 1", s.reads)
	}
}

// A deleted ticket is cached as a tombstone and answers not found; a
// ticket that never existed is not cached at all.
func TestTicketTombstoneAndUnknown(t *testing.T) {
	t.Parallel()
	s := &store{rows: map[string]app.Row{"gone": row("gone", 4, true)}}
	c := newCache()
	q := newQueries(t, s, c)
	res, err := q.Ticket(t.Context(), "gone")
	if err != nil || res.Found || !c.entries["gone"].Deleted {
		t.Fatalf("%+v %v, cached %+v", res, err, c.entries["gone"])
	}
	res, err = q.Ticket(t.Context(), "never")
	if err != nil || res.Found || len(c.entries) != 1 {
		t.Fatalf("%+v %v, cached %d", res, err, len(c.entries))
	}
}

// With Redis down, reads are served from Postgres as BYPASS; a Postgres
// failure is the caller's error.
func TestTicketBypass(t *testing.T) {
	t.Parallel()
	s := &store{rows: map[string]app.Row{"a": row("a", 1, false)}}
	c := newCache()
	c.down = true
	q := newQueries(t, s, c)
	res, err := q.Ticket(t.Context(), "a")
	if err != nil || res.Source != app.Bypass || !res.Found {
		t.Fatalf("%+v %v", res, err)
	}
	s.err = ticket.ErrUnavailable
	if _, err := q.Ticket(t.Context(), "a"); !errors.Is(err, ticket.ErrUnavailable) {
		t.Fatalf("%v", err)
	}
}

// A list page is cached under the generation read before Postgres; after a
// bump the same query misses.
func TestListGenerations(t *testing.T) {
	t.Parallel()
	s := &store{list: []ticket.Ticket{row("a", 1, false).Ticket, row("b", 1, false).Ticket}}
	c := newCache()
	q := newQueries(t, s, c)
	lq := app.ListQuery{SortBy: ticket.SortCreatedAt, Order: "desc", Limit: 1}
	for _, want := range []app.Source{app.Miss, app.Hit} {
		res, err := q.List(t.Context(), lq)
		if err != nil || res.Source != want {
			t.Fatalf("%+v %v, want %s", res, err, want)
		}
	}
	var page struct {
		Items      []ticket.Ticket `json:"items"`
		NextCursor *string         `json:"next_cursor"`
	}
	res, _ := q.List(t.Context(), lq)
	if err := json.Unmarshal(res.Body, &page); err != nil || len(page.Items) != 1 || page.NextCursor == nil {
		t.Fatalf("page %s: %v", res.Body, err)
	}
	c.gens[c.Keys().Gen("", "")]++
	if res, err := q.List(t.Context(), lq); err != nil || res.Source != app.Miss {
		t.Fatalf("after a bump: %+v %v", res, err)
	}
}
