// Package ticketevent is the TicketChanged event as it travels: built from
// tickets, encoded with protobuf's JSON mapping, carried with CloudEvents
// headers on stream TICKETS. The command side writes it, the invalidator and
// ticketctl read it.
package ticketevent

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// Change types.
const (
	Created = eventsv1.Change_CREATED
	Updated = eventsv1.Change_UPDATED
	Deleted = eventsv1.Change_DELETED
)

// Meta is what an event knows beyond the ticket states.
type Meta struct {
	EventID       string
	Actor         string
	CorrelationID string
	OccurredAt    time.Time
}

// New builds the event for a change from prev to next. prev is nil on
// create, next is nil on delete; version is the version the change made.
func New(m Meta, change eventsv1.Change, prev, next *ticket.Ticket, version int64) *eventsv1.TicketChanged {
	ev := &eventsv1.TicketChanged{
		EventId:       m.EventID,
		Version:       version,
		Change:        change,
		OccurredAt:    timestamppb.New(m.OccurredAt),
		Actor:         m.Actor,
		CorrelationId: m.CorrelationID,
	}
	switch {
	case next != nil:
		ev.TicketId = next.ID
		ev.Ticket = ToProto(*next)
	case prev != nil:
		ev.TicketId = prev.ID
	}
	if prev != nil {
		ev.Previous = ToProto(*prev)
	}
	if prev != nil && next != nil {
		ev.ChangedFields = ticket.ChangedFields(*prev, *next)
	}
	return ev
}

// ToProto converts the API ticket to the event's ticket.
func ToProto(t ticket.Ticket) *eventsv1.Ticket {
	return &eventsv1.Ticket{
		Id:          t.ID,
		Title:       t.Title,
		Description: t.Description,
		Status:      t.Status,
		Priority:    t.Priority,
		Assignee:    t.Assignee,
		Reporter:    t.Reporter,
		Tags:        append([]string{}, t.Tags...),
		Version:     t.Version,
		CreatedAt:   timestamppb.New(t.CreatedAt),
		UpdatedAt:   timestamppb.New(t.UpdatedAt),
	}
}

// FromProto converts the event's ticket back to the API ticket.
func FromProto(p *eventsv1.Ticket) ticket.Ticket {
	tags := append([]string{}, p.GetTags()...)
	return ticket.Ticket{
		ID:          p.GetId(),
		Title:       p.GetTitle(),
		Description: p.GetDescription(),
		Status:      p.GetStatus(),
		Priority:    p.GetPriority(),
		Assignee:    p.GetAssignee(),
		Reporter:    p.GetReporter(),
		Tags:        tags,
		Version:     p.GetVersion(),
		CreatedAt:   p.GetCreatedAt().AsTime().UTC(),
		UpdatedAt:   p.GetUpdatedAt().AsTime().UTC(),
	}
}
