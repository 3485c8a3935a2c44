package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

var (
	sortKeys = []string{"created_at", "updated_at", "priority", "title"}
	titles   = []string{"alpha", "bravo", "charlie", "delta", "echo"}
	statuses = []string{ticket.StatusOpen, ticket.StatusInProgress, ticket.StatusClosed}
	people   = []string{"alice", "bob", ""}
	prios    = []string{ticket.PriorityLow, ticket.PriorityMedium, ticket.PriorityHigh, ticket.PriorityUrgent}
)

var paginationBase = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// randomRow has few distinct sort values, so ties (broken by id) are common,
// and values all over the range, so new rows land before, inside and after
// the pages already read.
func randomRow(r *rand.Rand) ticket.Ticket {
	created := paginationBase.Add(time.Duration(r.IntN(12)) * time.Second)
	return ticket.Ticket{
		Title: titles[r.IntN(len(titles))], Status: statuses[r.IntN(len(statuses))],
		Priority: prios[r.IntN(len(prios))], Assignee: people[r.IntN(len(people))],
		CreatedAt: created, UpdatedAt: created.Add(time.Duration(r.IntN(5)) * time.Minute),
	}
}

// Every sort_by in both orders, unfiltered and filtered: walking the pages
// while rows are inserted (between pages and from another goroutine) shows
// each row that existed throughout exactly once, and every page in order.
func TestPaginationUnderConcurrentInserts(t *testing.T) {
	t.Parallel()
	for _, sortBy := range sortKeys {
		for _, order := range []string{"desc", "asc"} {
			t.Run(sortBy+"_"+order, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, "")
				h.start(nil)
				rng := rand.New(rand.NewPCG(uint64(len(sortBy)), uint64(len(order))))
				var seeded []ticket.Ticket
				for range 60 {
					seeded = append(seeded, h.insert(randomRow(rng)))
				}
				for _, tk := range seeded[:5] {
					h.softDelete(tk)
				}
				seeded = seeded[5:]
				for _, filter := range []string{"", "&status=open", "&assignee=alice", "&status=closed&assignee=bob"} {
					walk(t, h, sortBy, order, filter, seeded)
				}
			})
		}
	}
}

func walk(t *testing.T, h *harness, sortBy, order, filter string, seeded []ticket.Ticket) {
	t.Helper()
	q, _ := url.ParseQuery(strings.TrimPrefix(filter, "&"))
	matches := func(tk ticket.Ticket) bool {
		return (q.Get("status") == "" || tk.Status == q.Get("status")) &&
			(q.Get("assignee") == "" || tk.Assignee == q.Get("assignee"))
	}

	// Concurrent writers, bounded in count, stopped when the walk ends.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(7, 11))
		for i := 0; i < 300 && ctx.Err() == nil; i++ {
			if err := insertRow(ctx, h, withDefaults(t, randomRow(rng))); err != nil && ctx.Err() == nil {
				t.Errorf("concurrent insert: %v", err)
				return
			}
		}
	})
	defer func() { cancel(); wg.Wait() }()

	rng := rand.New(rand.NewPCG(3, 5))
	seen := map[string]int{}
	var all []ticket.Ticket
	next := ""
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatalf("%s %s%s: no end after 200 pages", sortBy, order, filter)
		}
		path := fmt.Sprintf("/tickets?limit=7&sort_by=%s&order=%s%s", sortBy, order, filter)
		if next != "" {
			path += "&cursor=" + url.QueryEscape(next)
		}
		r := h.get(path)
		mustStatus(t, r, http.StatusOK)
		p := decodeList(t, r)
		for _, tk := range p.Items {
			seen[tk.ID]++
			if !matches(tk) {
				t.Fatalf("%s: %s does not match the filter", path, tk.ID)
			}
		}
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			break
		}
		next = *p.NextCursor
		for range 3 { // and some more between pages, for certain
			h.insert(randomRow(rng))
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Fatalf("%s %s%s: %s seen %d times", sortBy, order, filter, id, n)
		}
	}
	for _, tk := range seeded {
		if matches(tk) && seen[tk.ID] != 1 {
			t.Fatalf("%s %s%s: %s (existed throughout) missing", sortBy, order, filter, tk.ID)
		}
	}
	for i := 1; i < len(all); i++ {
		if !inOrder(sortBy, order, all[i-1], all[i]) {
			t.Fatalf("%s %s%s: %v before %v", sortBy, order, filter, all[i-1], all[i])
		}
	}
}

// inOrder reports whether a comes strictly before b: by the sort key, then
// by id, both in the requested direction. Titles are lower-case ASCII words,
// which every collation orders the same way.
func inOrder(sortBy, order string, a, b ticket.Ticket) bool {
	var c int
	switch sortBy {
	case "created_at":
		c = a.CreatedAt.Compare(b.CreatedAt)
	case "updated_at":
		c = a.UpdatedAt.Compare(b.UpdatedAt)
	case "priority":
		c = ticket.PriorityRank(a.Priority) - ticket.PriorityRank(b.Priority)
	case "title":
		c = strings.Compare(a.Title, b.Title)
	}
	if c == 0 {
		c = strings.Compare(a.ID, b.ID)
	}
	if order == "desc" {
		c = -c
	}
	return c < 0
}
