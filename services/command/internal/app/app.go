// Package app holds the command side's use cases: the rules of creating,
// changing and deleting a ticket, and the event each change records. The
// store owns transactions; the use cases decide what goes into them.
package app

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/pkg/tracing"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Errors of the write use cases, besides ticket's ErrNotFound,
// ErrVersionConflict and ErrUnavailable.
var (
	ErrIdempotencyInFlight = errors.New("idempotency key in flight")
	ErrIdempotencyMismatch = errors.New("idempotency key reused with another request")
)

// OutboxRecord is one event ready to be stored beside the change it records.
type OutboxRecord struct {
	EventID  string
	TicketID string
	Version  int64
	Headers  map[string]string
	Payload  []byte
}

// Idempotency identifies a create that may be retried: the same key (per
// subject) with the same request answers with the ticket the first created;
// RequestHash tells "the same request" from another one under that key.
type Idempotency struct {
	Subject     string
	Key         string
	RequestHash []byte
}

// UpdateFunc decides, from the locked current state, the new state and its
// event; a nil record means nothing changed.
type UpdateFunc func(cur ticket.Ticket) (ticket.Ticket, *OutboxRecord, error)

// Store is what the use cases need from persistence.
type Store interface {
	// Create stores t with its event, and the idempotency record when idem is
	// set, in one transaction. A replay returns the ticket the first request
	// created instead, and stores nothing.
	Create(ctx context.Context, t ticket.Ticket, rec OutboxRecord, idem *Idempotency) (replay *ticket.Ticket, err error)
	Update(ctx context.Context, id string, fn UpdateFunc) (ticket.Ticket, error)
	Delete(ctx context.Context, id string, fn func(cur ticket.Ticket) (OutboxRecord, error)) error
}

// Commands are the write use cases.
type Commands struct {
	store  Store
	source string
	now    func() time.Time
}

// New wires the use cases; source is the events' ce-source.
func New(store Store, source string) *Commands {
	return &Commands{store: store, source: source, now: time.Now}
}

// Actor says who asks for a change and within which request.
type Actor struct {
	Subject       string
	CorrelationID string
}

func (c *Commands) record(ctx context.Context, a Actor, change eventsv1.Change, prev, next *ticket.Ticket, version int64, at time.Time) (OutboxRecord, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return OutboxRecord{}, err
	}
	ev := ticketevent.New(ticketevent.Meta{
		EventID: id.String(), Actor: a.Subject, CorrelationID: a.CorrelationID, OccurredAt: at,
	}, change, prev, next, version)
	payload, err := ticketevent.Marshal(ev)
	if err != nil {
		return OutboxRecord{}, err
	}
	headers := ticketevent.Headers(ev, c.source)
	// The request's trace continues through the outbox row and the message.
	tracing.Inject(ctx, headers)
	return OutboxRecord{
		EventID:  ev.GetEventId(),
		TicketID: ev.GetTicketId(),
		Version:  version,
		Headers:  headers,
		Payload:  payload,
	}, nil
}
