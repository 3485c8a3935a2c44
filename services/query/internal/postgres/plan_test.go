package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// Every list shape (filters × sort × order, first page or after a cursor)
// is answered by walking one of the partial indexes in order, with the
// filters and the cursor's position as index conditions: no Sort node and no
// Filter, so the cost of a page does not grow with how deep it is.
func TestEveryListShapeWalksAnIndex(t *testing.T) {
	t.Parallel()
	url := ticketsdb.New(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// A tiny table would make a sequential scan plus sort the cheapest
	// plan; forbid the scan so the planner shows whether an index can
	// deliver the order by itself.
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		ticket.SortCreatedAt: time.Now(), ticket.SortUpdatedAt: time.Now(),
		ticket.SortPriority: 3, ticket.SortTitle: "m",
	}
	for _, f := range []struct{ status, assignee string }{{"", ""}, {"open", ""}, {"", "alice"}, {"open", "alice"}} {
		for sortBy, v := range values {
			for _, order := range []string{"asc", "desc"} {
				for _, after := range []*cursor.Key{nil, {Value: v, ID: "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"}} {
					q := app.ListQuery{Status: f.status, Assignee: f.assignee, SortBy: sortBy, Order: order, Limit: 51, After: after}
					sql, args := ticketdb.PageSQL(page(q))
					plan := explain(t, conn, sql, args)
					if strings.Contains(plan, "Sort") || strings.Contains(plan, "Filter") || !strings.Contains(plan, "Index Scan") {
						t.Errorf("%+v:\n%s\n%s", q, sql, plan)
					}
				}
			}
		}
	}
}

func explain(t *testing.T, conn *pgx.Conn, sql string, args []any) string {
	t.Helper()
	rows, err := conn.Query(t.Context(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", sql, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
