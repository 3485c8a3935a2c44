package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many writers and readers on a few tickets; once the writes stop, every
// cached ticket and every readable cached list page equals Postgres within
// a second. Readers go on meanwhile, as they would in production, filling
// the cache while the last events are still on their way.
func TestConvergenceUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	const tickets, writers, readers = 5, 4, 4
	const runFor = 3 * time.Second
	const convergeWithin = 10 * time.Second
	var mu sync.Mutex
	ids := make([]string, 0, tickets)
	for i := range tickets {
		ids = append(ids, s.create(fmt.Sprintf(`{"title":"ticket %d","assignee":"alice"}`, i)).ID)
	}
	pick := func(r *rand.Rand) string {
		mu.Lock()
		defer mu.Unlock()
		return ids[r.IntN(len(ids))]
	}
	statuses := []string{"open", "in_progress", "resolved", "closed"}
	people := []string{"alice", "bob", "carol"}
	priorities := []string{"low", "medium", "high", "urgent"}

	stop := time.Now().Add(runFor)
	var writes, reads, failures atomic.Int64
	var wg, readersWG sync.WaitGroup
	readersStop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(stop) {
				id := pick(r)
				var res response
				var err error
				switch r.IntN(40) {
				case 0: // a delete, and a new ticket takes its place
					res, err = s.do(s.command.url, http.MethodDelete, "/tickets/"+id, "")
					if err == nil && res.status == http.StatusNoContent {
						body := fmt.Sprintf(`{"title":"replacement %d","assignee":%q}`, r.IntN(1000), people[r.IntN(3)])
						res, err = s.do(s.command.url, http.MethodPost, "/tickets", body)
						var created struct{ ID string }
						if err == nil && res.status == http.StatusCreated && json.Unmarshal(res.body, &created) == nil {
							mu.Lock()
							ids = append(ids, created.ID)
							mu.Unlock()
						}
					}
				default:
					body := fmt.Sprintf(`{"title":"title %d","status":%q,"assignee":%q,"priority":%q}`,
						r.IntN(1000), statuses[r.IntN(4)], people[r.IntN(3)], priorities[r.IntN(4)])
					res, err = s.do(s.command.url, http.MethodPatch, "/tickets/"+id, body)
				}
				// 404: another writer deleted the ticket meanwhile.
				if err != nil || (res.status >= 300 && res.status != http.StatusNotFound) {
					failures.Add(1)
					t.Errorf("write: %v %d %s", err, res.status, res.body)
					return
				}
				writes.Add(1)
			}
		})
	}
	for rd := range readers {
		readersWG.Go(func() {
			r := rand.New(rand.NewPCG(uint64(rd), 11))
			for {
				select {
				case <-readersStop:
					return
				default:
				}
				path := "/tickets/" + pick(r)
				if r.IntN(3) > 0 {
					path = "/tickets?" + randomListQuery(r).Encode()
				}
				res, err := s.do(s.query.url, http.MethodGet, path, "")
				if err != nil || (res.status != http.StatusOK && res.status != http.StatusNotFound) {
					failures.Add(1)
					t.Errorf("GET %s: %v %d %s", path, err, res.status, res.body)
					return
				}
				reads.Add(1)
			}
		})
	}
	wg.Wait() // the writers
	stopped := time.Now()
	unsent, pending := s.backlog()
	// The cache must come to equal Postgres after the last write; how soon
	// is logged (make bench measures it), the deadline is only generous.
	// Each check is a snapshot (a few round trips), taken every 10ms. The
	// readers stop only afterwards, so no failure leaves them running.
	var last convergence
	var convergedAfter time.Duration
	converged := false
	tick := time.NewTicker(10 * time.Millisecond)
	for failures.Load() == 0 && !converged && time.Since(stopped) < convergeWithin {
		at := time.Since(stopped)
		last = checkConvergence(t, s)
		converged, convergedAfter = len(last.diffs) == 0, at
		if !converged {
			<-tick.C
		}
	}
	tick.Stop()
	close(readersStop)
	readersWG.Wait()
	if failures.Load() > 0 {
		t.FailNow()
	}
	if !converged {
		s.settle()
		later := checkConvergence(t, s)
		t.Fatalf("the cache did not converge within 1s of the last write (backlog then: %d outbox rows unsent, %d events "+
			"not yet acked; all settled %v after the last write, with %d differences left): %v",
			unsent, pending, time.Since(stopped).Round(time.Millisecond), len(later.diffs), &last)
	}
	t.Logf("backlog when the writes stopped: %d outbox rows unsent, %d events not yet acked", unsent, pending)
	t.Logf("%d writes and %d reads in %v; %v after the last write, %d cached tickets and %d current list pages equalled Postgres",
		writes.Load(), reads.Load(), runFor, convergedAfter.Round(time.Millisecond), last.tickets, last.pages)
	if last.tickets == 0 || last.pages == 0 {
		t.Fatalf("nothing was cached to compare (tickets %d, pages %d)", last.tickets, last.pages)
	}
	// A second look after the pipeline is certainly idle: still equal.
	s.settle()
	if c := checkConvergence(t, s); len(c.diffs) > 0 {
		t.Fatalf("diverged after settling: %v", &c)
	}
}

func randomListQuery(r *rand.Rand) url.Values {
	q := url.Values{
		"sort_by": {sorts[r.IntN(len(sorts))]},
		"order":   {[]string{"asc", "desc"}[r.IntN(2)]},
		"limit":   {[]string{"2", "3", "50"}[r.IntN(3)]},
	}
	if r.IntN(2) == 0 {
		q.Set("status", []string{"open", "in_progress", "resolved", "closed"}[r.IntN(4)])
	}
	if r.IntN(2) == 0 {
		q.Set("assignee", []string{"alice", "bob", "carol"}[r.IntN(3)])
	}
	return q
}

// convergence is one comparison of the cache with Postgres.
type convergence struct {
	tickets, pages int
	diffs          []string
}

func (c *convergence) String() string {
	b, _ := json.MarshalIndent(c.diffs, "", "  ")
	return fmt.Sprintf("%d cached tickets, %d current pages, %d differences: %s", c.tickets, c.pages, len(c.diffs), b)
}
