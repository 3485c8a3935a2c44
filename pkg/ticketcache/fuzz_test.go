package ticketcache_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// fuzzPrefixes are prefixes Config accepts: production's and a test's.
var fuzzPrefixes = []string{"", "t-1.x:"}

// hashTag are the characters that make Redis Cluster hash part of a key only.
const hashTag = "{}"

// globChars are SCAN MATCH's special characters, which part must escape.
const globChars = "*?[]\\"

// FuzzKeys checks the key builders on two arbitrary queries: a list key
// parses back (ParseList) to exactly its query and generation, so no two
// queries share a key; two generation keys are equal only for equal filters;
// the three kinds of key never meet; and no key holds a Redis Cluster hash
// tag, nor a filter value a ':', a space or a SCAN glob character.
func FuzzKeys(f *testing.F) {
	type q = ticketcache.ListQuery
	add := func(pi uint8, a q, ga int64, b q, gb int64) {
		f.Add(pi, a.Status, a.Assignee, a.SortBy, a.Order, a.Limit, a.Cursor, ga,
			b.Status, b.Assignee, b.SortBy, b.Order, b.Limit, b.Cursor, gb)
	}
	base := q{SortBy: "created_at", Order: "desc", Limit: 50}
	add(0, base, 0, base, 1)
	add(1, q{Status: "open", Assignee: "alice", SortBy: "priority", Order: "asc", Limit: 1, Cursor: "eyJzIjoi"}, 12,
		q{Status: "open", Assignee: "alice", SortBy: "priority", Order: "asc", Limit: 1, Cursor: "eyJzIjoi"}, 12)
	add(0, q{Assignee: "None", SortBy: "title", Order: "desc", Limit: 200}, 3, q{SortBy: "title", Order: "desc", Limit: 200}, 3)
	add(0, q{Assignee: "%4Eone", SortBy: "title", Order: "desc", Limit: 200}, 3, q{Assignee: "None", SortBy: "title", Order: "desc", Limit: 200}, 3)
	add(0, q{Assignee: "a b+c", SortBy: "title", Order: "desc", Limit: 7}, 3, q{Assignee: "a+b c", SortBy: "title", Order: "desc", Limit: 7}, 3)
	add(0, q{Assignee: "a:b{c}*?[\\]\x00\xff", SortBy: "updated_at", Order: "asc", Limit: -7}, -1, base, -1)
	add(0, q{Status: "OPEN", Assignee: "Alice", SortBy: "created_at", Order: "desc", Limit: 50}, 9223372036854775807,
		q{Status: "open", Assignee: "alice", SortBy: "created_at", Order: "desc", Limit: 50}, -9223372036854775808)
	add(0, q{SortBy: "created_at", Order: "desc", Limit: 50, Cursor: "first"}, 0, base, 0)
	add(0, q{SortBy: "created_at", Order: "desc", Limit: 5, Cursor: "c:1:d"}, 0,
		q{SortBy: "created_at", Order: "desc:5:c", Limit: 1, Cursor: "d"}, 0)
	add(0, q{SortBy: "a:b", Order: "desc", Limit: 50}, 0, q{SortBy: "{a}", Order: "desc", Limit: 50, Cursor: "x:g5"}, 0)

	f.Fuzz(func(t *testing.T, pi uint8,
		s1, a1, sort1, order1 string, limit1 int, cursor1 string, gen1 int64,
		s2, a2, sort2, order2 string, limit2 int, cursor2 string, gen2 int64) {
		k := ticketcache.Keys{Prefix: fuzzPrefixes[int(pi)%len(fuzzPrefixes)]}
		q1 := ticketcache.ListQuery{Status: s1, Assignee: a1, SortBy: sort1, Order: order1, Limit: limit1, Cursor: cursor1}
		q2 := ticketcache.ListQuery{Status: s2, Assignee: a2, SortBy: sort2, Order: order2, Limit: limit2, Cursor: cursor2}
		for _, v := range []string{sort1, order1, cursor1, sort2, order2, cursor2} {
			if strings.ContainsAny(v, ":{}") || v == "first" {
				return
			}
		}
		key1, key2 := k.List(q1, gen1), k.List(q2, gen2)
		for _, c := range []struct {
			q   ticketcache.ListQuery
			gen int64
			key string
		}{{q1, gen1, key1}, {q2, gen2, key2}} {
			if got, gen, ok := k.ParseList(c.key); !ok || got != c.q || gen != c.gen {
				t.Fatalf("%+v g%d has key %q, which parses as %+v g%d %v", c.q, c.gen, c.key, got, gen, ok)
			}
			if !strings.HasPrefix(c.key, k.ListPrefix()) || strings.ContainsAny(c.key, hashTag) {
				t.Fatalf("%+v has key %q", c.q, c.key)
			}
		}
		if key1 == key2 && (q1 != q2 || gen1 != gen2) {
			t.Fatalf("%+v g%d and %+v g%d share key %q", q1, gen1, q2, gen2, key1)
		}

		g1, g2 := k.Gen(s1, a1), k.Gen(s2, a2)
		if (g1 == g2) != (s1 == s2 && a1 == a2) {
			t.Fatalf("generation keys %q of (%q, %q) and %q of (%q, %q)", g1, s1, a1, g2, s2, a2)
		}
		filters := strings.TrimPrefix(g1, k.Prefix+"tickets:gen:")
		if strings.Count(filters, ":") != 1 || strings.ContainsAny(filters, hashTag+globChars+" ") {
			t.Fatalf("generation key %q of (%q, %q)", g1, s1, a1)
		}

		// Ticket keys, for an id as the services spell it (ticket.ParseID).
		id := uuid.NewSHA1(uuid.Nil, []byte(s1+"\x00"+a1)).String()
		tk := k.Ticket(id)
		if strings.ContainsAny(tk, hashTag) || !strings.HasPrefix(tk, k.Prefix+"ticket:") {
			t.Fatalf("ticket key %q", tk)
		}
		// Any id, even one no service would accept: one key per id, and
		// never a list's or a generation's key.
		for _, other := range []string{key1, key2, g1, g2} {
			if k.Ticket(s1) == other || k.Ticket(a1) == other || k.Ticket(cursor1) == other {
				t.Fatalf("a ticket key is also %q", other)
			}
		}
		if (k.Ticket(s1) == k.Ticket(s2)) != (s1 == s2) {
			t.Fatalf("ticket keys of %q and %q", s1, s2)
		}
		if key1 == g1 || key1 == g2 || key2 == g1 || key2 == g2 {
			t.Fatalf("a list key is also a generation key")
		}
	})
}

// FuzzParseEntry checks the reader of ticket:{id} values. It never panics;
// for what this package writes (a ticket's API JSON, a tombstone) it reads
// the version and the deletion exactly, whatever the ticket's text holds.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []struct {
		raw, title string
		version    int64
	}{
		{`{"id":"a","version":3,"deleted":true}`, `tricky "version":99, "deleted":true`, 7},
		{`{"version": 4}`, "\x00\xff", 0},
		{`{"id":"a","version":"5"}`, `\"version\":5}`, 9223372036854775807},
		{`{"a":{"version":5},"version":3}`, `"deleted":true`, 1},
		{`{"version":1,"deleted":true,"deleted":false}`, "", -1},
		{`{"version":1e3}`, "", 1},
		{`{"version":99999999999999999999}`, "", 1},
		{`{"version":1,`, "", 1},
		{`not json`, "", 1},
		{`{}`, "", 1},
		{`{"version":`, "", 1},
		{strings.Repeat(`{"a":`, 5000), "", 1},
	} {
		f.Add([]byte(s.raw), s.title, s.version, false)
		f.Add([]byte(s.raw), s.title, s.version, true)
	}
	f.Fuzz(func(t *testing.T, raw []byte, title string, version int64, deleted bool) {
		if e, err := ticketcache.ParseEntry(raw); err == nil && !e.Deleted && string(e.JSON) != string(raw) {
			t.Fatalf("%q read as JSON %q", raw, e.JSON)
		}

		var written []byte
		if deleted {
			written, _ = json.Marshal(struct { // as SetTombstone writes it
				ID      string `json:"id"`
				Version int64  `json:"version"`
				Deleted bool   `json:"deleted"`
			}{title, version, true})
		} else {
			at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
			written, _ = json.Marshal(ticket.Ticket{ID: title, Title: title, Description: title, Status: title,
				Priority: title, Assignee: title, Reporter: title, Tags: []string{title, string(raw)},
				Version: version, CreatedAt: at, UpdatedAt: at})
		}
		e, err := ticketcache.ParseEntry(written)
		if err != nil || e.Version != version || e.Deleted != deleted || (!deleted && string(e.JSON) != string(written)) {
			t.Fatalf("%s read as %+v %v", written, e, err)
		}
	})
}
