package main

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

var (
	statuses   = []string{ticket.StatusOpen, ticket.StatusInProgress, ticket.StatusResolved, ticket.StatusClosed}
	priorities = []string{ticket.PriorityLow, ticket.PriorityMedium, ticket.PriorityHigh, ticket.PriorityUrgent}
	people     = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
)

// seedTickets COPYs n tickets of typical size into each database and
// returns their ids. Ticket i is the same in every database, so a floor
// reads the rows the project reads.
func seedTickets(ctx context.Context, n int, urls ...string) ([]string, error) {
	ids := make([]string, n)
	base := time.Now().UTC().Add(-time.Duration(n) * time.Second)
	rows := make([][]any, n)
	for i := range n {
		id := uuid.Must(uuid.NewV7()).String()
		ids[i] = id
		at := base.Add(time.Duration(i) * time.Second)
		rows[i] = []any{id, fmt.Sprintf("Printer %d on floor %d is jammed", i, i%12),
			"Paper tray 2 keeps jamming; the display shows E-204 after every third page.",
			statuses[i%len(statuses)], priorities[i%len(priorities)], people[i%len(people)],
			people[(i+3)%len(people)], []string{"hardware", fmt.Sprintf("floor-%d", i%12)}, int64(1), at, at}
	}
	for _, u := range urls {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			return nil, err
		}
		_, err = conn.CopyFrom(ctx, pgx.Identifier{"tickets"}, []string{"id", "title", "description", "status",
			"priority", "assignee", "reporter", "tags", "version", "created_at", "updated_at"}, pgx.CopyFromRows(rows))
		if err == nil {
			_, err = conn.Exec(ctx, "ANALYZE tickets")
		}
		_ = conn.Close(ctx)
		if err != nil {
			return nil, fmt.Errorf("copy %d tickets: %w", n, err)
		}
	}
	return ids, nil
}
