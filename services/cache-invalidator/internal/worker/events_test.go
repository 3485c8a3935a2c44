package worker_test

import (
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Events as the command service builds them.

var base = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func newTicket(t *testing.T, title string) ticket.Ticket {
	return ticket.Ticket{
		ID: testinfra.UniqueName(t, "tk"), Title: title, Status: ticket.StatusOpen, Priority: ticket.PriorityMedium,
		Assignee: "alice", Reporter: "bob", Tags: []string{"hw"}, Version: 1, CreatedAt: base, UpdatedAt: base,
	}
}

func meta(t *testing.T) ticketevent.Meta {
	return ticketevent.Meta{EventID: testinfra.UniqueName(t, "ev"), Actor: "bob", OccurredAt: time.Now()}
}

func created(t *testing.T, tk ticket.Ticket) *eventsv1.TicketChanged {
	return ticketevent.New(meta(t), ticketevent.Created, nil, &tk, tk.Version)
}

// updated returns the next version of prev with f applied, and its event.
func updated(t *testing.T, prev ticket.Ticket, f func(*ticket.Ticket)) (ticket.Ticket, *eventsv1.TicketChanged) {
	next := prev.Clone()
	f(&next)
	next.Version = prev.Version + 1
	next.UpdatedAt = prev.UpdatedAt.Add(time.Second)
	return next, ticketevent.New(meta(t), ticketevent.Updated, &prev, &next, next.Version)
}

func deleted(t *testing.T, prev ticket.Ticket) *eventsv1.TicketChanged {
	return ticketevent.New(meta(t), ticketevent.Deleted, &prev, nil, prev.Version+1)
}
