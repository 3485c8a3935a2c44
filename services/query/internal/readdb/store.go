package readdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// Store implements app.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

var _ app.Store = (*Store)(nil)

// New returns a store on pool (see Open).
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

const columns = `id, title, description, status, priority, assignee, reporter, tags,
	version, created_at, updated_at`

// Ticket implements app.Store. Deleted rows are returned too: their version
// becomes the cache's tombstone, which fences off anything older.
func (s *Store) Ticket(ctx context.Context, id string) (app.Row, error) {
	var r app.Row
	err := s.pool.QueryRow(ctx, `SELECT `+columns+`, deleted_at IS NOT NULL
		FROM tickets WHERE id = $1`, id).Scan(ticketFields(&r.Ticket, &r.Deleted)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ticket.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("select ticket: %w", err)
	}
	normalize(&r.Ticket)
	return r, nil
}

// List implements app.Store with keyset pagination: the WHERE on (sort
// column, id) and the ORDER BY match one of the partial indexes of
// 00001_tickets.sql for every filter shape, so page 500 costs what page 1
// costs.
func (s *Store) List(ctx context.Context, q app.ListQuery) ([]ticket.Ticket, error) {
	sql, args := listSQL(q)
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	out := make([]ticket.Ticket, 0, q.Limit)
	var t ticket.Ticket
	_, err = pgx.ForEachRow(rows, ticketFields(&t), func() error {
		c := t.Clone()
		normalize(&c)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return out, nil
}

// sortColumns maps the API's sort_by to a column; priority sorts by its
// rank (urgent > high > medium > low), not by text.
var sortColumns = map[string]string{
	cursor.SortCreatedAt: "created_at",
	cursor.SortUpdatedAt: "updated_at",
	cursor.SortPriority:  "priority_rank",
	cursor.SortTitle:     "title",
}

// listSQL builds the page query. Only whitelisted names reach the text;
// every value is a parameter.
func listSQL(q app.ListQuery) (string, []any) {
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"deleted_at IS NULL"}
	if q.Status != "" {
		where = append(where, "status = "+param(q.Status))
	}
	if q.Assignee != "" {
		where = append(where, "assignee = "+param(q.Assignee))
	}
	col, ok := sortColumns[q.SortBy]
	if !ok {
		col = sortColumns[cursor.SortCreatedAt]
	}
	dir, cmp := "DESC", "<"
	if q.Order == "asc" {
		dir, cmp = "ASC", ">"
	}
	if q.After != nil {
		where = append(where, "("+col+", id) "+cmp+" ("+param(q.After.Value)+", "+param(q.After.ID)+")")
	}
	sql := `SELECT ` + columns + ` FROM tickets WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + col + ` ` + dir + `, id ` + dir + ` LIMIT ` + param(q.Limit)
	return sql, args
}

func ticketFields(t *ticket.Ticket, extra ...any) []any {
	return append([]any{&t.ID, &t.Title, &t.Description, &t.Status, &t.Priority, &t.Assignee,
		&t.Reporter, &t.Tags, &t.Version, &t.CreatedAt, &t.UpdatedAt}, extra...)
}

// normalize makes a row serialize exactly as the command service and the
// events do: UTC timestamps (pgx returns local time) and [] for no tags.
func normalize(t *ticket.Ticket) {
	t.CreatedAt = t.CreatedAt.UTC()
	t.UpdatedAt = t.UpdatedAt.UTC()
	if t.Tags == nil {
		t.Tags = []string{}
	}
}
