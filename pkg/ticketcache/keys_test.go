package ticketcache_test

import (
	"encoding/json"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// ParseList is List backwards, for every shape of query, so ticketctl and
// the tests read list keys with the scheme's own rules.
func TestParseListRoundTrip(t *testing.T) {
	t.Parallel()
	k := ticketcache.Keys{Prefix: "p:"}
	for _, q := range []ticketcache.ListQuery{
		{SortBy: "created_at", Order: "desc", Limit: 50},
		{Status: "open", Assignee: "alice", SortBy: "priority", Order: "asc", Limit: 1, Cursor: "eyJzIjoi"},
		{Assignee: "None", SortBy: "title", Order: "desc", Limit: 200},
		{Assignee: "a:b c*?", SortBy: "updated_at", Order: "asc", Limit: 7, Cursor: "x:y"},
	} {
		key := k.List(q, 12)
		got, gen, ok := k.ParseList(key)
		if !ok || gen != 12 || got != q {
			t.Errorf("%s: %+v g%d %v, want %+v g12", key, got, gen, ok, q)
		}
	}
	for _, bad := range []string{
		"p:ticket:x", "p:tickets:all:None:created_at", "p:tickets:all:None:created_at:None:desc:50:first:7",
		"p:tickets:all:None:created_at:None:desc:fifty:first:g7", "q:tickets:all:None:created_at:None:desc:50:first:g7",
		"p:tickets:all:None:created_at:%zz:desc:50:first:g7", "p:tickets:all:None:created_at:None:desc:050:first:g7",
	} {
		if q, gen, ok := k.ParseList(bad); ok {
			t.Errorf("%s parsed as %+v g%d", bad, q, gen)
		}
	}
}

// A change touches at most seven generations: any × any, and status and
// assignee before and after, alone and together.
func TestAffectedGensAtMostSeven(t *testing.T) {
	t.Parallel()
	k := ticketcache.Keys{}
	prev := &ticket.Ticket{Status: "open", Assignee: "alice"}
	next := &ticket.Ticket{Status: "closed", Assignee: "bob"}
	if n := len(k.AffectedGens(prev, next)); n != 7 {
		t.Fatalf("%d generations, want 7", n)
	}
	if n := len(k.AffectedGens(nil, next)); n != 4 {
		t.Fatalf("a create: %d generations, want 4", n)
	}
}

// The fast path agrees with the decoder on what the cache holds, and leaves
// anything odd to it.
func TestParseEntry(t *testing.T) {
	t.Parallel()
	live, _ := json.Marshal(ticket.Ticket{ID: "a", Title: `tricky "version":99, "deleted":true`, Tags: []string{}, Version: 7})
	cases := []struct {
		raw     string
		version int64
		deleted bool
		err     bool
	}{
		{string(live), 7, false, false},
		{`{"id":"a","version":3,"deleted":true}`, 3, true, false},
		{`{"version": 4}`, 4, false, false},
		{`{"id":"a","version":"5"}`, 0, false, true},
		{`not json`, 0, false, true},
		{`{"id":"a"}`, 0, false, false},
	}
	for _, tc := range cases {
		e, err := ticketcache.ParseEntry([]byte(tc.raw))
		if (err != nil) != tc.err || (err == nil && (e.Version != tc.version || e.Deleted != tc.deleted)) {
			t.Errorf("%s: %+v %v, want v%d deleted=%v err=%v", tc.raw, e, err, tc.version, tc.deleted, tc.err)
		}
		if err == nil && !e.Deleted && string(e.JSON) != tc.raw {
			t.Errorf("%s: JSON %s", tc.raw, e.JSON)
		}
	}
}
