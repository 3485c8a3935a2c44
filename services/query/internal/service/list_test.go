package service_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

func TestListFiltersSortsAndPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	a := h.insert(ticket.Ticket{Title: "bravo", Priority: ticket.PriorityLow, Assignee: "alice", CreatedAt: base})
	b := h.insert(ticket.Ticket{Title: "alpha", Priority: ticket.PriorityUrgent, Assignee: "bob",
		CreatedAt: base.Add(time.Minute), UpdatedAt: base.Add(time.Hour)})
	c := h.insert(ticket.Ticket{Title: "charlie", Priority: ticket.PriorityHigh, Assignee: "alice",
		Status: ticket.StatusClosed, CreatedAt: base.Add(2 * time.Minute)})
	gone := h.insert(ticket.Ticket{Title: "deleted", CreatedAt: base.Add(3 * time.Minute)})
	h.softDelete(gone)

	cases := []struct {
		query string
		want  []ticket.Ticket
	}{
		{"", []ticket.Ticket{c, b, a}},
		{"?order=asc", []ticket.Ticket{a, b, c}},
		{"?sort_by=updated_at", []ticket.Ticket{b, c, a}},
		{"?sort_by=priority", []ticket.Ticket{b, c, a}},
		{"?sort_by=priority&order=asc", []ticket.Ticket{a, c, b}},
		{"?sort_by=title&order=asc", []ticket.Ticket{b, a, c}},
		{"?sort_by=title", []ticket.Ticket{c, a, b}},
		{"?assignee=alice", []ticket.Ticket{c, a}},
		{"?status=closed", []ticket.Ticket{c}},
		{"?status=open&assignee=alice", []ticket.Ticket{a}},
		{"?status=resolved", []ticket.Ticket{}},
		{"?assignee=nobody&status=", []ticket.Ticket{}},
	}
	for _, tc := range cases {
		r := h.get("/tickets" + tc.query)
		mustStatus(t, r, http.StatusOK)
		mustCache(t, r, "MISS")
		got := decodeList(t, r)
		if got.NextCursor != nil || got.Items == nil {
			t.Errorf("%q: next_cursor %v, items nil %v", tc.query, got.NextCursor, got.Items == nil)
		}
		if ids(got.Items) != ids(tc.want) {
			t.Errorf("%q: got %s, want %s", tc.query, ids(got.Items), ids(tc.want))
		}
		if r := h.get("/tickets" + tc.query); r.cache() != "HIT" {
			t.Errorf("%q: second read %s", tc.query, r.cache())
		}
	}
	if r := h.get("/tickets?status=resolved"); string(r.body) != `{"items":[],"next_cursor":null}` {
		t.Fatalf("empty page %s", r.body)
	}

	// Two pages of two: the cursor of the first leads to the rest, the last
	// page has none.
	p1 := decodeList(t, h.get("/tickets?limit=2"))
	if ids(p1.Items) != ids([]ticket.Ticket{c, b}) || p1.NextCursor == nil {
		t.Fatalf("page 1 %s cursor %v", ids(p1.Items), p1.NextCursor)
	}
	p2 := decodeList(t, h.get("/tickets?limit=2&cursor="+url.QueryEscape(*p1.NextCursor)))
	if ids(p2.Items) != ids([]ticket.Ticket{a}) || p2.NextCursor != nil {
		t.Fatalf("page 2 %s cursor %v", ids(p2.Items), p2.NextCursor)
	}
	// The cursor does not depend on limit: another page size continues too.
	p2b := decodeList(t, h.get("/tickets?limit=1&cursor="+url.QueryEscape(*p1.NextCursor)))
	if ids(p2b.Items) != ids([]ticket.Ticket{a}) {
		t.Fatalf("page 2 with limit 1: %s", ids(p2b.Items))
	}
	head := send(t, h.srv, http.MethodHead, "/tickets")
	mustStatus(t, head, http.StatusOK)
}

func TestListBadParameters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	for i := range 3 {
		h.insert(ticket.Ticket{Title: "row", Assignee: "alice", CreatedAt: time.Now().Add(time.Duration(i) * time.Second)})
	}
	cursorOf := func(query string) string {
		t.Helper()
		p := decodeList(t, h.get("/tickets?limit=1"+query))
		if p.NextCursor == nil {
			t.Fatalf("no cursor for %q", query)
		}
		return url.QueryEscape(*p.NextCursor)
	}
	cur := cursorOf("")
	tampered := []byte(cur)
	tampered[5] ^= 1 // still base64url, another record
	cases := []struct {
		name, query string
		fields      []string
	}{
		{"unknown sort_by", "sort_by=priority_rank", []string{"sort_by"}},
		{"limit 0", "limit=0", []string{"limit"}},
		{"limit 201", "limit=201", []string{"limit"}},
		{"limit abc", "limit=abc", []string{"limit"}},
		{"limit empty", "limit=", []string{"limit"}},
		{"limit negative", "limit=-1", []string{"limit"}},
		{"bad order", "order=up", []string{"order"}},
		{"order upper case", "order=DESC", []string{"order"}},
		{"bad status", "status=done", []string{"status"}},
		{"long assignee", "assignee=" + strings.Repeat("x", 101), []string{"assignee"}},
		{"unknown parameter", "page=2", []string{"page"}},
		{"misspelt filter", "assigne=alice", []string{"assigne"}},
		{"repeated parameter", "limit=5&limit=6", []string{"limit"}},
		{"several at once", "sort_by=x&limit=0&order=up", []string{"sort_by", "order", "limit"}},
		{"garbage cursor", "cursor=not-a-cursor", []string{"cursor"}},
		{"bad base64 cursor", "cursor=%21%21%21", []string{"cursor"}},
		{"empty cursor", "cursor=", []string{"cursor"}},
		{"tampered cursor", "limit=1&cursor=" + string(tampered), []string{"cursor"}},
		{"cursor of another sort_by", "sort_by=title&cursor=" + cur, []string{"cursor"}},
		{"cursor of another order", "order=asc&cursor=" + cur, []string{"cursor"}},
		{"cursor of another status", "status=open&cursor=" + cur, []string{"cursor"}},
		{"cursor of another assignee", "cursor=" + cursorOf("&assignee=alice"), []string{"cursor"}},
		{"cursor of a filtered list without the filter", "assignee=bob&cursor=" + cursorOf("&assignee=alice"), []string{"cursor"}},
	}
	for _, tc := range cases {
		r := h.get("/tickets?" + tc.query)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400; body %s", tc.name, r.status, r.body)
			continue
		}
		p := r.problem(t)
		var fields []string
		for _, e := range p.Errors {
			if e.Message == "" {
				t.Errorf("%s: error without message: %+v", tc.name, e)
			}
			fields = append(fields, e.Field)
		}
		if strings.Join(fields, ",") != strings.Join(tc.fields, ",") || p.Instance != "/tickets" {
			t.Errorf("%s: fields %v instance %q, want %v", tc.name, fields, p.Instance, tc.fields)
		}
		if r.cache() != "" {
			t.Errorf("%s: a rejected request reports X-Cache %q", tc.name, r.cache())
		}
	}
	// The same cursor with its own parameters is fine.
	mustStatus(t, h.get("/tickets?limit=1&cursor="+cur), http.StatusOK)
	mustStatus(t, h.get("/tickets?assignee=alice&cursor="+cursorOf("&assignee=alice")), http.StatusOK)
	// A cursor signed with another key (another deployment) is refused.
	other := h.start(nil, "CURSOR_SECRET", strings.Repeat("k", 32))
	r := send(t, other, http.MethodGet, "/tickets?limit=1&cursor="+cur)
	mustStatus(t, r, http.StatusBadRequest)
}

func ids(ts []ticket.Ticket) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Title + "/" + t.ID[len(t.ID)-4:]
	}
	return strings.Join(out, " ")
}
