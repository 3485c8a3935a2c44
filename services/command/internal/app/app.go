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

// Errors the HTTP layer maps to statuses.
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

// StoredResponse is the first response to an idempotent request.
type StoredResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// Idempotency identifies a request that may be retried.
type Idempotency struct {
	Subject     string
	Key         string
	RequestHash []byte
	// Render makes the response that replays will return.
	Render func(ticket.Ticket) (StoredResponse, error)
}

// UpdateFunc decides, from the locked current state, the new state and its
// event; a nil record means nothing changed.
type UpdateFunc func(cur ticket.Ticket) (ticket.Ticket, *OutboxRecord, error)

// Store is what the use cases need from persistence.
type Store interface {
	// Create stores t with its event, and the idempotency record when idem is
	// set, in one transaction. A replay returns the stored response instead.
	Create(ctx context.Context, t ticket.Ticket, rec OutboxRecord, idem *Idempotency) (*StoredResponse, error)
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
