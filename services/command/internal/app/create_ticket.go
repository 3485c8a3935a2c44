package app

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// CreateResult is the new ticket, or the first response of a replayed request.
type CreateResult struct {
	Ticket ticket.Ticket
	Replay *StoredResponse
}

// Create makes a ticket at version 1. The reporter defaults to the actor.
func (c *Commands) Create(ctx context.Context, a Actor, p Patch, idem *Idempotency) (CreateResult, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return CreateResult{}, fmt.Errorf("new id: %w", err)
	}
	now := ticket.Timestamp(c.now())
	t := p.Apply(ticket.Ticket{
		ID:        id.String(),
		Status:    ticket.StatusOpen,
		Priority:  ticket.PriorityMedium,
		Reporter:  a.Subject,
		Tags:      []string{},
		Version:   1,
		CreatedAt: now,
		UpdatedAt: now,
	})
	rec, err := c.record(ctx, a, ticketevent.Created, nil, &t, t.Version, now)
	if err != nil {
		return CreateResult{}, err
	}
	replay, err := c.store.Create(ctx, t, rec, idem)
	if err != nil {
		return CreateResult{}, err
	}
	if replay != nil {
		return CreateResult{Replay: replay}, nil
	}
	return CreateResult{Ticket: t}, nil
}
