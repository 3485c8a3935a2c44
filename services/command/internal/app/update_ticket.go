package app

import (
	"context"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// Precondition is an If-Match header: nil means last write wins.
type Precondition struct {
	// Any is If-Match: *, which only requires the ticket to exist.
	Any      bool
	Versions []int64
}

// Holds reports whether the current version satisfies the precondition.
func (p *Precondition) Holds(version int64) bool {
	if p == nil || p.Any {
		return true
	}
	for _, v := range p.Versions {
		if v == version {
			return true
		}
	}
	return false
}

// Update applies p to the ticket. A patch that changes nothing returns the
// ticket as it is: no new version, no event.
func (c *Commands) Update(ctx context.Context, a Actor, id string, p Patch, pre *Precondition) (ticket.Ticket, error) {
	return c.store.Update(ctx, id, func(cur ticket.Ticket) (ticket.Ticket, *OutboxRecord, error) {
		if !pre.Holds(cur.Version) {
			return cur, nil, ticket.ErrVersionConflict
		}
		next := p.Apply(cur)
		if len(ticket.ChangedFields(cur, next)) == 0 {
			return cur, nil, nil
		}
		now := ticket.Timestamp(c.now())
		if !now.After(cur.UpdatedAt) {
			// Keep updated_at strictly increasing even if clocks step back,
			// so "sort by updated_at" follows the order of changes.
			now = cur.UpdatedAt.Add(time.Microsecond)
		}
		next.Version = cur.Version + 1
		next.UpdatedAt = now
		rec, err := c.record(ctx, a, ticketevent.Updated, &cur, &next, next.Version, now)
		if err != nil {
			return cur, nil, err
		}
		return next, &rec, nil
	})
}
