package service_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/service"
)

// countingStore counts the queries that reach Postgres.
type countingStore struct {
	app.Store
	tickets, lists atomic.Int64
	mu             sync.Mutex
	gate           chan struct{} // when not nil, loads wait for it to close
}

func (s *countingStore) setGate(ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = ch
}

func (s *countingStore) wait() {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
}

// Ticket and List hold a load at the gate; the hold is the test's own, so
// it does not count against the load's deadline (on a loaded machine the
// herd can take longer than that to gather).
func (s *countingStore) Ticket(ctx context.Context, id string) (app.Row, error) {
	s.tickets.Add(1)
	s.wait()
	return s.Store.Ticket(context.WithoutCancel(ctx), id)
}

func (s *countingStore) List(ctx context.Context, q app.ListQuery) ([]ticket.Ticket, error) {
	s.lists.Add(1)
	s.wait()
	return s.Store.List(context.WithoutCancel(ctx), q)
}

// 1,000 concurrent reads of one uncached ticket reach Postgres once; the
// same for one uncached list page. The first Postgres read is held until all
// 1,000 requests have missed the cache, so the herd is forced, not hoped for.
func TestThunderingHerd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	counter := &countingStore{}
	// 1,000 requests on two cores under the race detector can starve a
	// Redis round trip past even the harness's timeout.
	h.start([]service.Option{service.WithStore(func(s app.Store) app.Store {
		counter.Store = s
		return counter
	})}, "REDIS_TIMEOUT", "5s", "HTTP_MAX_IN_FLIGHT", "2000")
	tk := h.insert(ticket.Ticket{Title: "popular"})
	tok := token(t)
	h.srv.Client().Transport.(*http.Transport).MaxIdleConnsPerHost = 1000

	herd := func(path, kind string) map[string]int {
		t.Helper()
		const n = 1000
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			sources = map[string]int{}
			bodies  = map[string]bool{}
			failed  []string
		)
		gate := make(chan struct{})
		counter.setGate(gate)
		for range n {
			wg.Go(func() {
				r, err := trySend(h.srv, http.MethodGet, path, tok)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || r.status != http.StatusOK {
					failed = append(failed, string(r.body))
					return
				}
				sources[r.cache()]++
				bodies[string(r.body)] = true
			})
		}
		// Hold the first load until every reader has missed the cache and
		// is on its way to Postgres.
		misses := `ticketsys_cache_requests_total{kind="` + kind + `",result="miss"} ` + strconv.Itoa(n)
		testinfra.Eventually(t, 60*time.Second, func() bool { return h.metric(misses[:strings.LastIndex(misses, " ")]) == misses },
			"the %d readers never all missed the cache", n)
		close(gate)
		wg.Wait()
		counter.setGate(nil)
		if len(failed) > 0 {
			t.Fatalf("%d of %d reads failed, e.g. %s", len(failed), n, failed[0])
		}
		if len(bodies) != 1 {
			t.Fatalf("%d different bodies", len(bodies))
		}
		if sources["MISS"]+sources["HIT"] != n {
			t.Fatalf("sources %v, want %d answers from the cache path", sources, n)
		}
		return sources
	}

	s := herd("/tickets/"+tk.ID, "ticket")
	if got := counter.tickets.Load(); got != 1 {
		t.Fatalf("%d Postgres queries for one ticket (sources %v), want 1", got, s)
	}
	s = herd("/tickets?sort_by=title", "list")
	if got := counter.lists.Load(); got != 1 {
		t.Fatalf("%d Postgres queries for one list page (sources %v), want 1", got, s)
	}
}
