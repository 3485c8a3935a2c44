package worker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// purger deletes the keys of dead-lettered events: one goroutine and a queue
// of at most max events, deduplicated by ticket id, retried with back-off
// until Redis answers. A long outage dead-letters every event, so anything
// per event (a goroutine each, as before) grows without bound.
//
// When the queue is full, a new ticket's key is not queued (it expires by
// TTL) and one broad list invalidation is remembered instead, so list pages
// are still refreshed once Redis is back.
type purger struct {
	rule      *invalidation.Rule
	log       *slog.Logger
	m         *Metrics
	max       int
	opTimeout time.Duration
	backoff   func(attempt uint64) time.Duration

	mu       sync.Mutex
	pending  map[string][]*eventsv1.TicketChanged // by ticket id; nil events stand for "lists unknown"
	n        int                                  // events in pending or being purged
	broad    bool                                 // bump every list that can be named
	overflow bool                                 // the queue filled up; logged once until it empties
	stopping bool

	wake chan struct{}
	done chan struct{}
}

// purgeJob is one unit of work: a ticket's queued events, or the broad
// invalidation.
type purgeJob struct {
	id    string
	evs   []*eventsv1.TicketChanged
	broad bool
}

func newPurger(w *Worker) *purger {
	return &purger{
		rule: w.rule, log: w.log, m: w.m, max: w.cfg.PurgeQueue, opTimeout: w.cfg.OpTimeout, backoff: w.backoff,
		pending: map[string][]*eventsv1.TicketChanged{},
		wake:    make(chan struct{}, 1), done: make(chan struct{}),
	}
}

// add queues the keys of a dead-lettered event (ev nil: undecodable) for
// deletion. It never blocks.
func (p *purger) add(id string, ev *eventsv1.TicketChanged) {
	p.mu.Lock()
	defer p.mu.Unlock()
	evs, queued := p.pending[id]
	for _, e := range evs {
		if e == ev || (e != nil && ev != nil && ev.GetEventId() != "" && e.GetEventId() == ev.GetEventId()) {
			return // the same event dead-lettered twice, or a second undecodable one
		}
	}
	switch {
	case p.n < p.max:
		p.pending[id] = append(evs, ev)
		p.n++
	case queued:
		// The ticket's key is deleted anyway; only this event's lists
		// would be lost.
		p.broad = true
	default:
		p.broad = true
		p.m.PurgesDropped.Inc()
		if !p.overflow {
			p.overflow = true
			p.log.Error("dead-letter purge queue full; further tickets' keys expire by TTL, lists are invalidated broadly",
				"queued", p.n)
		}
	}
	p.gauge()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run purges until the queue is empty after stop, or ctx is done.
func (p *purger) run(ctx context.Context) {
	defer close(p.done)
	var failures uint64
	for {
		job, ok, stop := p.pop()
		if stop {
			return
		}
		if !ok {
			select {
			case <-p.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		err := p.purge(ctx, job)
		p.finish(job, err)
		if err == nil {
			failures = 0
			continue
		}
		failures++
		p.log.Warn("purging keys of dead-lettered events", "ticket_id", job.id, "attempt", failures,
			"pending", p.pendingCount(), "error", err)
		if !lifecycle.Sleep(ctx, p.backoff(failures)) {
			return
		}
	}
}

// stop lets run return once the queue is empty.
func (p *purger) stop() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *purger) pop() (job purgeJob, ok, stop bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broad {
		p.broad = false
		return purgeJob{broad: true}, true, false
	}
	for id, evs := range p.pending {
		delete(p.pending, id)
		return purgeJob{id: id, evs: evs}, true, false
	}
	return purgeJob{}, false, p.stopping
}

// finish settles a job: done, or queued again (still counted) to retry.
func (p *purger) finish(job purgeJob, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil && job.broad:
		p.broad = true
	case err != nil:
		p.pending[job.id] = append(job.evs, p.pending[job.id]...)
	default:
		p.n -= len(job.evs)
	}
	if p.n == 0 && !p.broad {
		p.overflow = false
	}
	p.gauge()
}

// purge runs one job; a panic (a cache bug) is a failure, not a crash.
func (p *purger) purge(ctx context.Context, job purgeJob) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p.m.Panics.Inc()
			p.log.Error("panic purging keys", "ticket_id", job.id, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, p.opTimeout)
	defer cancel()
	if job.broad {
		return p.rule.Purge(ctx, "", nil)
	}
	for _, ev := range job.evs {
		if err := p.rule.Purge(ctx, job.id, ev); err != nil {
			return err
		}
	}
	return nil
}

func (p *purger) pendingCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// gauge publishes the queue's size; the broad invalidation counts as one.
// Called with mu held.
func (p *purger) gauge() {
	n := p.n
	if p.broad {
		n++
	}
	p.m.PurgesPending.Set(float64(n))
}
