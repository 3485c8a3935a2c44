package service_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

func TestConcurrentIfMatchOneWins(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	tk := createTicket(t, srv, "race")

	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			r := do(t, srv, http.MethodPut, "/tickets/"+tk.ID, fmt.Sprintf(`{"title":"writer %d"}`, i), "If-Match", `"1"`)
			statuses[i] = r.status
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	if count[200] != 1 || count[412] != 19 {
		t.Fatalf("statuses %v, want one 200 and nineteen 412", count)
	}
	s.waitMessages(2)
}

func TestConcurrentIdempotentPostsMakeOneTicket(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()

	statuses := make([]int, 20)
	ids := make([]string, 20)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			r := do(t, srv, http.MethodPost, "/tickets", `{"title":"only one"}`, "Idempotency-Key", "same-key")
			statuses[i] = r.status
			if r.status == http.StatusCreated {
				ids[i] = r.ticket(t).ID
			}
		})
	}
	wg.Wait()
	created := map[string]bool{}
	for i, st := range statuses {
		switch st {
		case http.StatusCreated:
			created[ids[i]] = true
		case http.StatusConflict:
		default:
			t.Fatalf("status %d; want 201 (first or replay) or 409 (in flight)", st)
		}
	}
	if len(created) != 1 {
		t.Fatalf("responses name %d tickets, want 1", len(created))
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM tickets`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d tickets stored (%v), want 1", n, err)
	}
	s.waitMessages(1)
}
