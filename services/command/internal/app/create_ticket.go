package app

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// CreateResult is the new ticket, or for a replayed request the one its first
// request created.
type CreateResult struct {
	Ticket   ticket.Ticket
	Replayed bool
}

// Create makes a ticket at version 1. The reporter defaults to the actor.
// With an idempotency key (idemKey != ""), a retry of the same request
// answers with the ticket the first one created.
func (c *Commands) Create(ctx context.Context, a Actor, p Patch, idemKey string) (CreateResult, error) {
	var idem *Idempotency
	if idemKey != "" {
		canon, err := json.Marshal(p) // deterministic: same fields, same order
		if err != nil {
			return CreateResult{}, fmt.Errorf("hash request: %w", err)
		}
		sum := sha256.Sum256(canon)
		idem = &Idempotency{Subject: a.Subject, Key: idemKey, RequestHash: sum[:]}
	}
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
		return CreateResult{Ticket: *replay, Replayed: true}, nil
	}
	return CreateResult{Ticket: t}, nil
}
