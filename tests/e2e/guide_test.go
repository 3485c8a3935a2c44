package e2e

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// freshWithin is how long a step waits for a change to show. It is a
// deadline, generous for a loaded machine under the race detector, not a
// measurement: the write-to-fresh window is measured by make bench.
const freshWithin = 10 * time.Second

var sorts = []string{"created_at", "updated_at", "priority", "title"}

// listsOf are the list URLs a ticket with this status and assignee belongs
// to (or, after a delete, must be gone from): unfiltered, by status, by
// assignee, by both, under every sort and order.
func listsOf(status, assignee string) []string {
	var out []string
	for _, f := range []url.Values{
		{}, {"status": {status}}, {"assignee": {assignee}}, {"status": {status}, "assignee": {assignee}},
	} {
		for _, sortBy := range sorts {
			for _, order := range []string{"desc", "asc"} {
				q := url.Values{"sort_by": {sortBy}, "order": {order}, "limit": {"200"}}
				for k, v := range f {
					q[k] = v
				}
				out = append(out, "/tickets?"+q.Encode())
			}
		}
	}
	return out
}

func findIn(p listPage, id string) (ticket.Ticket, bool) {
	for _, it := range p.Items {
		if it.ID == id {
			return it, true
		}
	}
	return ticket.Ticket{}, false
}

// The original guide, step by step, against the three running services.
func TestOriginalGuide(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	a := s.create(`{"title":"Printer on floor 3 is jammed","priority":"high","assignee":"alice"}`)
	s.create(`{"title":"VPN drops every hour","status":"in_progress","assignee":"bob"}`)
	s.settle()

	// Step 3: the first GET populates the cache, the second hits it.
	first := s.read("/tickets")
	mustStatus(t, first, http.StatusOK)
	if got := first.header.Get("X-Cache"); got != "MISS" {
		t.Fatalf("first GET /tickets: X-Cache %q, want MISS", got)
	}
	second := s.read("/tickets")
	if got := second.header.Get("X-Cache"); got != "HIT" || string(second.body) != string(first.body) {
		t.Fatalf("second GET /tickets: X-Cache %q, body %s; want HIT and the same body", got, second.body)
	}
	if n := len(first.page(t).Items); n != 2 {
		t.Fatalf("%d tickets listed, want 2", n)
	}
	// The single ticket was put in the cache by the invalidator on create.
	if r := s.read("/tickets/" + a.ID); r.header.Get("X-Cache") != "HIT" || r.ticket(t).Version != 1 {
		t.Fatalf("GET /tickets/{id} after create: X-Cache %q, body %s", r.header.Get("X-Cache"), r.body)
	}
	// Every list the ticket is in gets cached, so the next steps check
	// invalidation and not merely a first read.
	for _, path := range listsOf("open", "alice") {
		s.read(path)
		if r := s.read(path); r.header.Get("X-Cache") != "HIT" {
			t.Fatalf("GET %s twice: X-Cache %q", path, r.header.Get("X-Cache"))
		}
	}

	// Step 4: update. The invalidator writes the new version into
	// ticket:{id} (watched in Redis itself, so no read of the test's can
	// have filled it), the next read is a hit on it, and the lists show the
	// new title.
	r := s.write(http.MethodPut, "/tickets/"+a.ID, `{"title":"Updated title"}`)
	mustStatus(t, r, http.StatusOK)
	testinfra.Eventually(t, freshWithin, func() bool {
		e, found, err := s.cache.GetTicket(t.Context(), a.ID)
		return err == nil && found && e.Version == 2
	}, "the invalidator did not refresh ticket:{id} within %v", freshWithin)
	if r := s.read("/tickets/" + a.ID); r.header.Get("X-Cache") != "HIT" || r.ticket(t).Version != 2 ||
		r.ticket(t).Title != "Updated title" {
		t.Fatalf("updated ticket not served from the refreshed cache: X-Cache %q, %s", r.header.Get("X-Cache"), r.body)
	}
	testinfra.Eventually(t, freshWithin, func() bool {
		it, found := findIn(s.read("/tickets").page(t), a.ID)
		return found && it.Title == "Updated title"
	}, "the new title did not show in GET /tickets within %v", freshWithin)

	// Delete, and the ticket is gone from the single read and every list.
	r = s.write(http.MethodDelete, "/tickets/"+a.ID, "")
	mustStatus(t, r, http.StatusNoContent)
	testinfra.Eventually(t, freshWithin, func() bool {
		if s.read("/tickets/"+a.ID).status != http.StatusNotFound {
			return false
		}
		for _, path := range listsOf("open", "alice") {
			if _, found := findIn(s.read(path).page(t), a.ID); found {
				return false
			}
		}
		return true
	}, "the deleted ticket still showed within %v", freshWithin)

	// A new ticket appears in the lists it belongs to, and not in others.
	c := s.create(`{"title":"Coffee machine leaks","priority":"urgent","assignee":"alice"}`)
	testinfra.Eventually(t, freshWithin, func() bool {
		for _, path := range listsOf("open", "alice") {
			if _, found := findIn(s.read(path).page(t), c.ID); !found {
				return false
			}
		}
		return true
	}, "the new ticket did not appear in every list within %v", freshWithin)
	for _, path := range append(listsOf("in_progress", "bob")[8:], "/tickets?status=closed") {
		if _, found := findIn(s.read(path).page(t), c.ID); found {
			t.Fatalf("the new ticket shows in %s", path)
		}
	}
	// The guide's operator view: the list keys are readable with redis-cli.
	key := s.cache.Keys().ListPrefix() + "None:created_at:None:"
	if n := scanCount(t, s, key+"*"); n == 0 {
		t.Fatalf("no list page cached under %s*", key)
	}
	t.Logf("cached list pages under %s*: %d", key, scanCount(t, s, key+"*"))
}

func scanCount(t testing.TB, s *stack, pattern string) int {
	t.Helper()
	n := 0
	iter := s.rdb.Scan(t.Context(), 0, pattern, 1000).Iterator()
	for iter.Next(t.Context()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}
