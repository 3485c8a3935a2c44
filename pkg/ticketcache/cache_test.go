package ticketcache_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

func newCache(t *testing.T) (*ticketcache.Cache, redis.UniversalClient) {
	t.Helper()
	opts, err := redis.ParseURL(testinfra.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := testinfra.UniqueName(t, "t") + ":"
	testinfra.CleanRedisPrefix(t, rdb, prefix)
	return ticketcache.New(rdb, ticketcache.Keys{Prefix: prefix}, 10*time.Minute), rdb
}

func tk(id string, v int64, title string) ticket.Ticket {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	return ticket.Ticket{ID: id, Title: title, Status: "open", Priority: "medium", Tags: []string{},
		Version: v, CreatedAt: now, UpdatedAt: now}
}

func TestFencedSetNeverGoesBack(t *testing.T) {
	t.Parallel()
	c, rdb := newCache(t)
	ctx := t.Context()
	id := "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"

	mustStore := func(ok bool, err error, want bool) {
		t.Helper()
		if err != nil || ok != want {
			t.Fatalf("stored=%v err=%v, want stored=%v", ok, err, want)
		}
	}
	ok, err := c.SetTicket(ctx, tk(id, 4, "v4"))
	mustStore(ok, err, true)
	ok, err = c.SetTicket(ctx, tk(id, 3, "v3")) // the slow reader
	mustStore(ok, err, false)
	ok, err = c.SetTicket(ctx, tk(id, 4, "v4 again"))
	mustStore(ok, err, false)

	e, found, err := c.GetTicket(ctx, id)
	if err != nil || !found || e.Version != 4 || e.Deleted || !strings.Contains(string(e.JSON), `"title":"v4"`) {
		t.Fatalf("entry %+v found=%v err=%v", e, found, err)
	}
	// The value is the API JSON operators read with GET, with a TTL.
	raw, _ := rdb.Get(ctx, c.Keys().Ticket(id)).Bytes()
	var back ticket.Ticket
	if err := json.Unmarshal(raw, &back); err != nil || back.Version != 4 {
		t.Fatalf("stored value %s: %v", raw, err)
	}
	if ttl := rdb.TTL(ctx, c.Keys().Ticket(id)).Val(); ttl < 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("ttl %v", ttl)
	}

	ok, err = c.SetTombstone(ctx, id, 5)
	mustStore(ok, err, true)
	ok, err = c.SetTicket(ctx, tk(id, 4, "resurrected"))
	mustStore(ok, err, false)
	e, found, err = c.GetTicket(ctx, id)
	if err != nil || !found || !e.Deleted || e.Version != 5 {
		t.Fatalf("tombstone %+v found=%v err=%v", e, found, err)
	}

	if err := c.DeleteTicket(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := c.GetTicket(ctx, id); found {
		t.Fatal("entry survived delete")
	}
}

func TestCorruptEntryIsAMissAndGetsRepaired(t *testing.T) {
	t.Parallel()
	c, rdb := newCache(t)
	ctx := t.Context()
	id := "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e12"
	rdb.Set(ctx, c.Keys().Ticket(id), "not json", time.Minute)
	if _, found, err := c.GetTicket(ctx, id); found || err != nil {
		t.Fatalf("found=%v err=%v", found, err)
	}
	if ok, err := c.SetTicket(ctx, tk(id, 1, "fresh")); !ok || err != nil {
		t.Fatalf("repair: %v %v", ok, err)
	}
}

func TestListGenerations(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t)
	ctx := t.Context()
	q := ticketcache.ListQuery{Status: "open", Assignee: "alice", SortBy: "created_at", Order: "desc", Limit: 50}
	g0, err := c.Generation(ctx, q)
	if err != nil || g0 != 0 {
		t.Fatalf("gen %d %v", g0, err)
	}
	key := c.Keys().List(q, g0)
	if err := c.SetList(ctx, key, []byte(`{"items":[]}`)); err != nil {
		t.Fatal(err)
	}
	if b, found, err := c.GetList(ctx, key); !found || err != nil || string(b) != `{"items":[]}` {
		t.Fatalf("list %s %v %v", b, found, err)
	}

	// A change of a ticket bob owns, in status closed, leaves alice's open lists alone.
	bob := tk("x", 2, "b")
	bob.Assignee, bob.Status = "bob", "closed"
	if err := c.InvalidateLists(ctx, nil, &bob); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.Generation(ctx, q); g != g0 {
		t.Fatalf("unrelated change bumped alice's open lists to %d", g)
	}
	// Reassigning from alice (open) to bob moves the generation of alice's open lists.
	prev := tk("y", 1, "a")
	prev.Assignee = "alice"
	next := prev
	next.Assignee, next.Version = "bob", 2
	if err := c.InvalidateLists(ctx, &prev, &next); err != nil {
		t.Fatal(err)
	}
	g1, _ := c.Generation(ctx, q)
	if g1 == g0 {
		t.Fatal("generation did not move")
	}
	if _, found, _ := c.GetList(ctx, c.Keys().List(q, g1)); found {
		t.Fatal("a page of the new generation exists before anyone cached it")
	}
	unfiltered := q
	unfiltered.Status, unfiltered.Assignee = "", ""
	first, _ := c.Generation(ctx, unfiltered)
	if err := c.InvalidateLists(ctx, nil, &bob); err != nil {
		t.Fatal(err)
	}
	if g, _ := c.Generation(ctx, unfiltered); g <= first {
		t.Fatalf("unfiltered lists at generation %d after a change at %d", g, first)
	}
}

func TestKeysAreReadable(t *testing.T) {
	t.Parallel()
	k := ticketcache.Keys{}
	q := ticketcache.ListQuery{SortBy: "created_at", Order: "desc", Limit: 50}
	if got := k.List(q, 3); got != "tickets:all:None:created_at:None:desc:50:first:g3" {
		t.Fatalf("list key %q", got)
	}
	q.Status, q.Assignee, q.Cursor = "in_progress", "Jane Doe:ops", "abc"
	if got := k.List(q, 0); got != "tickets:all:in_progress:created_at:Jane+Doe%3Aops:desc:50:abc:g0" {
		t.Fatalf("list key %q", got)
	}
	if k.Gen("", "None") == k.Gen("", "") {
		t.Fatal("an assignee called None shares the key of no assignee filter")
	}
	if got := k.Ticket("42"); got != "ticket:42" {
		t.Fatalf("ticket key %q", got)
	}
	prev := tk("1", 1, "a")
	prev.Assignee = "alice"
	next := prev
	next.Status, next.Assignee = "closed", "bob"
	if n := len(k.AffectedGens(&prev, &next)); n != 7 {
		// (open|any) × (alice|any) ∪ (closed|any) × (bob|any) = 4 + 4 - 1 shared (any, any)
		t.Fatalf("%d generations, want 7", n)
	}
}

// The page comes with its generation whether the guess was right or not.
func TestGenerationAndList(t *testing.T) {
	t.Parallel()
	c, _ := newCache(t)
	ctx := t.Context()
	q := ticketcache.ListQuery{Status: "open", SortBy: "created_at", Order: "desc", Limit: 50}
	// A missing counter is set before the page is looked for: never g0.
	g0, key, _, found, err := c.GenerationAndList(ctx, q, 0)
	if err != nil || g0 <= 0 || found || key != c.Keys().List(q, g0) {
		t.Fatalf("first read: g%d %s %v %v, want a miss at a new generation", g0, key, found, err)
	}
	if g, _ := c.Generation(ctx, q); g != g0 {
		t.Fatalf("counter holds %d after the first read answered %d", g, g0)
	}
	if err := c.SetList(ctx, key, []byte("page0")); err != nil {
		t.Fatal(err)
	}
	gen, key, page, found, err := c.GenerationAndList(ctx, q, g0)
	if err != nil || gen != g0 || !found || string(page) != "page0" || key != c.Keys().List(q, g0) {
		t.Fatalf("right guess: g%d %s %q %v %v", gen, key, page, found, err)
	}
	next := tk("01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", 1, "x")
	if err := c.InvalidateLists(ctx, nil, &next); err != nil {
		t.Fatal(err)
	}
	g1, key, _, found, err := c.GenerationAndList(ctx, q, g0)
	if err != nil || g1 <= g0 || found || key != c.Keys().List(q, g1) {
		t.Fatalf("stale guess: g%d %s %v %v, want a miss after g%d", g1, key, found, err, g0)
	}
	if err := c.SetList(ctx, key, []byte("page1")); err != nil {
		t.Fatal(err)
	}
	if _, _, page, found, err = c.GenerationAndList(ctx, q, 7); err != nil || !found || string(page) != "page1" {
		t.Fatalf("wrong guess: %q %v %v", page, found, err)
	}
}
