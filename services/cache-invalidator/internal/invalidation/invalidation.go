// Package invalidation is the cache-invalidator's rule: which cache changes
// a TicketChanged event makes. It knows the cache and the event, not
// JetStream; internal/worker feeds it deliveries and settles them.
//
// Every ticket write goes through the cache's version fence, so replaying an
// old or duplicate event never moves ticket:{id} back; lists are invalidated
// by generation bumps, which only ever make a page be recomputed. Hence any
// order of delivery ends in the same cache state, and events can be applied
// in parallel.
package invalidation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Cache is what the rule changes; pkg/ticketcache's Cache implements it.
type Cache interface {
	SetTicket(ctx context.Context, t ticket.Ticket) (stored bool, err error)
	SetTombstone(ctx context.Context, id string, version int64) (stored bool, err error)
	DeleteTicket(ctx context.Context, id string) error
	InvalidateLists(ctx context.Context, prev, next *ticket.Ticket) error
	// Change is SetTicket (or SetTombstone when next is nil) and
	// InvalidateLists in one round trip.
	Change(ctx context.Context, id string, version int64, prev, next *ticket.Ticket) (stored bool, err error)
}

// ErrInvalid marks an event that decodes but that nobody can apply.
var ErrInvalid = errors.New("invalid event")

// Check tells whether ev can be applied: a create or update must carry the
// ticket's state after the change, at the event's version. A failing event
// is dead-lettered at once instead of retried in vain.
func Check(ev *eventsv1.TicketChanged) error {
	switch ev.GetChange() {
	case ticketevent.Created, ticketevent.Updated:
		t := ev.GetTicket()
		if t == nil || t.GetId() != ev.GetTicketId() || t.GetVersion() != ev.GetVersion() {
			return fmt.Errorf("%w: %s without a matching ticket snapshot", ErrInvalid, ev.GetChange())
		}
	case ticketevent.Deleted:
	default:
		return fmt.Errorf("%w: unknown change %q", ErrInvalid, ev.GetChange())
	}
	return nil
}

// Rule applies events to the cache.
type Rule struct {
	cache  Cache
	rebump *rebumper
}

// New returns the rule. A positive rebumpDelay bumps a change's list
// generations a second time after it: a query service reading a lagging
// replica may have cached a page without the change under the generation of
// the first bump. Close waits for those.
func New(cache Cache, rebumpDelay time.Duration, log *slog.Logger) *Rule {
	r := &Rule{cache: cache}
	if rebumpDelay > 0 {
		r.rebump = &rebumper{cache: cache, delay: rebumpDelay, log: log, stop: make(chan struct{})}
	}
	return r
}

// Apply makes the cache reflect ev (checked with Check). stored is false
// when the fence refused the ticket because a newer version was cached.
func (r *Rule) Apply(ctx context.Context, ev *eventsv1.TicketChanged) (stored bool, err error) {
	return r.apply(ctx, ev, true)
}

// Reapply is Apply for an event applied once already, replayed after Redis
// lost data: the same writes, without a second bump later (its first
// application scheduled one).
func (r *Rule) Reapply(ctx context.Context, ev *eventsv1.TicketChanged) (stored bool, err error) {
	return r.apply(ctx, ev, false)
}

func (r *Rule) apply(ctx context.Context, ev *eventsv1.TicketChanged, rebump bool) (stored bool, err error) {
	prev, next := states(ev)
	if ev.GetChange() == ticketevent.Deleted {
		next = nil
	}
	if prev == nil && next == nil {
		// A delete without its previous state: which lists held the
		// ticket is unknown, so every list that can be named is bumped.
		if stored, err = r.cache.SetTombstone(ctx, ev.GetTicketId(), ev.GetVersion()); err != nil {
			return false, err
		}
		return stored, r.invalidateBroadly(ctx)
	}
	if stored, err = r.cache.Change(ctx, ev.GetTicketId(), ev.GetVersion(), prev, next); err != nil {
		return false, err
	}
	if rebump && r.rebump != nil {
		r.rebump.schedule(prev, next, ev.GetTicketId())
	}
	return stored, nil
}

// Purge deletes every key an event that could not be applied affects:
// always safe for a cache, the next read refills from Postgres. ev may be
// nil (undecodable); id is the ticket then known from the subject, or "".
func (r *Rule) Purge(ctx context.Context, id string, ev *eventsv1.TicketChanged) error {
	if id != "" {
		if err := r.cache.DeleteTicket(ctx, id); err != nil {
			return err
		}
	}
	prev, next := states(ev)
	return r.invalidateLists(ctx, prev, next)
}

// Close stops waiting: pending second bumps run now, and Close returns when
// they are done. A premature second bump is harmless; a lost one is not.
func (r *Rule) Close() {
	if r.rebump != nil {
		r.rebump.close()
	}
}

func (r *Rule) invalidateLists(ctx context.Context, prev, next *ticket.Ticket) error {
	if prev == nil && next == nil {
		return r.invalidateBroadly(ctx)
	}
	return r.cache.InvalidateLists(ctx, prev, next)
}

// invalidateBroadly is for a change whose states are unknown (a delete
// without its previous state, an undecodable event): it bumps the unfiltered
// lists and those filtered by status alone. Lists filtered by assignee
// cannot be enumerated without a scan; they expire by TTL.
func (r *Rule) invalidateBroadly(ctx context.Context) error {
	for _, s := range []string{ticket.StatusOpen, ticket.StatusInProgress, ticket.StatusResolved, ticket.StatusClosed} {
		t := ticket.Ticket{Status: s}
		if err := r.cache.InvalidateLists(ctx, nil, &t); err != nil {
			return err
		}
	}
	return nil
}

// states are the ticket before and after ev, each nil when ev lacks it.
func states(ev *eventsv1.TicketChanged) (prev, next *ticket.Ticket) {
	if p := ev.GetPrevious(); p != nil {
		t := ticketevent.FromProto(p)
		prev = &t
	}
	if n := ev.GetTicket(); n != nil {
		t := ticketevent.FromProto(n)
		next = &t
	}
	return prev, next
}

// rebumper runs the delayed second bumps.
type rebumper struct {
	cache     Cache
	delay     time.Duration
	log       *slog.Logger
	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// opTimeout bounds one delayed bump's Redis work.
const opTimeout = 5 * time.Second

func (b *rebumper) schedule(prev, next *ticket.Ticket, id string) {
	b.wg.Go(func() {
		t := time.NewTimer(b.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-b.stop:
		}
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		// Best effort: if it fails, such a page lives until its TTL.
		if err := b.cache.InvalidateLists(ctx, prev, next); err != nil {
			b.log.Warn("second list invalidation failed", "ticket_id", id, "error", err)
		}
	})
}

func (b *rebumper) close() {
	b.closeOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
}
