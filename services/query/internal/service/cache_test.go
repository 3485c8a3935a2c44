package service_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// The key names an operator reads with redis-cli, checked in Redis itself.
func TestCacheKeysAndTTLInRedis(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	ctx := t.Context()
	prefix := h.keys.Prefix
	tk := h.insert(ticket.Ticket{Title: "keyed", Assignee: "alice", Priority: ticket.PriorityHigh})

	r := h.get("/tickets")
	mustCache(t, r, "MISS")
	key := prefix + "tickets:all:None:created_at:None:desc:50:first:g" + genOf(t, h, "", "")
	if got := h.rdb.Get(ctx, key).Val(); got != string(r.body) {
		t.Fatalf("GET %s = %q, want the response %s", key, got, r.body)
	}
	assertTTL(t, h, key, 600*time.Second)
	mustCache(t, h.get("/tickets"), "HIT")

	r = h.get("/tickets?status=open&assignee=alice&sort_by=priority&order=asc&limit=10")
	mustCache(t, r, "MISS")
	key = prefix + "tickets:all:open:priority:alice:asc:10:first:g" + genOf(t, h, "open", "alice")
	if got := h.rdb.Get(ctx, key).Val(); got != string(r.body) {
		t.Fatalf("GET %s = %q", key, got)
	}
	assertTTL(t, h, key, 600*time.Second)

	r = h.get("/tickets/" + tk.ID)
	mustCache(t, r, "MISS")
	key = prefix + "ticket:" + tk.ID
	if got := h.rdb.Get(ctx, key).Val(); got != apiJSON(t, tk) {
		t.Fatalf("GET %s = %q", key, got)
	}
	assertTTL(t, h, key, 600*time.Second)

	// What an operator's redis-cli --scan --pattern finds under the list prefix.
	var found []string
	iter := h.rdb.Scan(ctx, 0, prefix+"tickets:all:*", 100).Iterator()
	for iter.Next(ctx) {
		found = append(found, iter.Val())
	}
	if len(found) != 2 {
		t.Fatalf("list keys %v", found)
	}
}

func TestCacheTTLFromConfig(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil, "CACHE_TTL_SECONDS", "42")
	tk := h.insert(ticket.Ticket{})
	mustCache(t, h.get("/tickets/"+tk.ID), "MISS")
	mustCache(t, h.get("/tickets"), "MISS")
	assertTTL(t, h, h.keys.Ticket(tk.ID), 42*time.Second)
	assertTTL(t, h, h.keys.ListPrefix()+"None:created_at:None:desc:50:first:g"+genOf(t, h, "", ""), 42*time.Second)
}

// genOf is the current generation of the lists with these filters: the
// first read sets it from Redis's clock.
func genOf(t *testing.T, h *harness, status, assignee string) string {
	t.Helper()
	g, err := h.cache.Generation(t.Context(), ticketcache.ListQuery{Status: status, Assignee: assignee})
	if err != nil || g == 0 {
		t.Fatalf("generation of (%q, %q): %d %v", status, assignee, g, err)
	}
	return strconv.FormatInt(g, 10)
}

func assertTTL(t *testing.T, h *harness, key string, want time.Duration) {
	t.Helper()
	ttl := h.rdb.TTL(t.Context(), key).Val()
	if ttl <= want-10*time.Second || ttl > want {
		t.Fatalf("TTL of %s is %v, want just under %v", key, ttl, want)
	}
}

// A change bumps the generation of the lists it touches (what the
// invalidator does): the next read misses and sees the change; lists of
// other filters stay cached.
func TestListGenerationInvalidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	h.insert(ticket.Ticket{Title: "one", Assignee: "alice"})
	mustCache(t, h.get("/tickets"), "MISS")
	mustCache(t, h.get("/tickets?assignee=bob"), "MISS")
	mustCache(t, h.get("/tickets"), "HIT")

	added := h.insert(ticket.Ticket{Title: "two", Assignee: "alice"})
	if err := h.cache.InvalidateLists(t.Context(), nil, &added); err != nil {
		t.Fatal(err)
	}
	r := h.get("/tickets")
	mustCache(t, r, "MISS")
	if got := decodeList(t, r); len(got.Items) != 2 || got.Items[0].ID != added.ID {
		t.Fatalf("after invalidation: %s", ids(got.Items))
	}
	mustCache(t, h.get("/tickets"), "HIT")
	mustCache(t, h.get("/tickets?assignee=bob"), "HIT")
	if n := h.rdb.Exists(t.Context(), h.keys.ListPrefix()+"None:created_at:None:desc:50:first:g"+genOf(t, h, "", "")).Val(); n != 1 {
		t.Fatal("page of the new generation not cached")
	}
}

// Hits and misses are counted in /metrics and logged at debug level.
func TestCacheMetricsAndDebugLog(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	logs := &testinfra.SyncBuffer{}
	h.logOut = logs
	h.start(nil, "LOG_LEVEL", "debug")
	tk := h.insert(ticket.Ticket{})
	h.get("/tickets/" + tk.ID)
	h.get("/tickets/" + tk.ID)
	h.get("/tickets/" + tk.ID)
	h.get("/tickets")
	for series, want := range map[string]string{
		`ticketsys_cache_requests_total{kind="ticket",result="miss"}`: "1",
		`ticketsys_cache_requests_total{kind="ticket",result="hit"}`:  "2",
		`ticketsys_cache_requests_total{kind="list",result="miss"}`:   "1",
		`ticketsys_cache_loads_total{kind="ticket"}`:                  "1",
		`ticketsys_redis_circuit_breaker_state`:                       "0",
	} {
		if got := h.metric(series); got != series+" "+want {
			t.Errorf("metric %q, want %s", got, want)
		}
	}
	out := logs.String()
	for _, want := range []string{`"result":"HIT"`, `"result":"MISS"`, `"key":"` + h.keys.Ticket(tk.ID) + `"`, `"kind":"list"`} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %s:\n%s", want, out)
		}
	}
	if r := h.get("/tickets/" + tk.ID); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
}
