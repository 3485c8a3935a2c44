package service_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// BenchmarkGetTicket compares a read served from Redis with one that misses
// and goes to Postgres (then refills the cache), through the whole HTTP
// handler: auth, cache-aside, JSON. Run with make bench, or
// go test -run '^$' -bench GetTicket ./internal/service/
func BenchmarkGetTicket(b *testing.B) {
	h := newHarness(b, "")
	h.start(nil)
	tk := h.insert(ticket.Ticket{Title: "benchmarked", Description: "a ticket of typical size",
		Assignee: "alice", Reporter: "bob", Tags: []string{"hardware", "floor-3"}})
	req := httptest.NewRequest(http.MethodGet, "/tickets/"+tk.ID, nil)
	req.Header.Set("Authorization", "Bearer "+token(b))
	serve := func(b *testing.B, want string) {
		rec := httptest.NewRecorder()
		h.svc.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Header().Get("X-Cache") != want {
			b.Fatalf("status %d X-Cache %s, want %s", rec.Code, rec.Header().Get("X-Cache"), want)
		}
	}

	b.Run("hit", func(b *testing.B) {
		serve(b, "MISS") // fills the cache
		for b.Loop() {
			serve(b, "HIT")
		}
	})
	b.Run("miss", func(b *testing.B) {
		key := h.keys.Ticket(tk.ID)
		for b.Loop() {
			b.StopTimer()
			if err := h.rdb.Del(b.Context(), key).Err(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			serve(b, "MISS")
		}
	})
}
