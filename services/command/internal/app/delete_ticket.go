package app

import (
	"context"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// Delete removes the ticket. The delete is a change of its own: its event
// carries the next version, so no older event can bring the ticket back.
func (c *Commands) Delete(ctx context.Context, a Actor, id string, pre *Precondition) error {
	return c.store.Delete(ctx, id, func(cur ticket.Ticket) (OutboxRecord, error) {
		if !pre.Holds(cur.Version) {
			return OutboxRecord{}, ticket.ErrVersionConflict
		}
		return c.record(ctx, a, ticketevent.Deleted, &cur, nil, cur.Version+1, ticket.Timestamp(c.now()))
	})
}
