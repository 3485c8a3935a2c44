// Package postgres is the query side's Postgres adapter: single-ticket reads
// and keyset-paginated lists, on a pool that cannot write
// (pgpool.Options.ReadOnly). Driver errors leave it as ticket's errors.
package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
)

// Store implements app.Store on a pgx pool.
type Store struct {
	pool *pgxpool.Pool
}

var _ app.Store = (*Store)(nil)

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Ticket implements app.Store. Deleted rows are returned too: their version
// becomes the cache's tombstone, which fences off anything older.
func (s *Store) Ticket(ctx context.Context, id string) (app.Row, error) {
	var r app.Row
	err := s.pool.QueryRow(ctx, `SELECT `+ticketdb.Columns+`, deleted_at IS NOT NULL
		FROM tickets WHERE id = $1`, id).Scan(ticketdb.ScanFields(&r.Ticket, &r.Deleted)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ticket.ErrNotFound
	}
	if err != nil {
		return r, ticketdb.Wrap("select ticket", err)
	}
	ticketdb.Normalize(&r.Ticket)
	return r, nil
}

// List implements app.Store with ticketdb's keyset page query.
func (s *Store) List(ctx context.Context, q app.ListQuery) ([]ticket.Ticket, error) {
	sql, args := ticketdb.PageSQL(page(q))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, ticketdb.Wrap("list tickets", err)
	}
	out := make([]ticket.Ticket, 0, q.Limit)
	var t ticket.Ticket
	_, err = pgx.ForEachRow(rows, ticketdb.ScanFields(&t), func() error {
		c := t.Clone()
		ticketdb.Normalize(&c)
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, ticketdb.Wrap("list tickets", err)
	}
	return out, nil
}

func page(q app.ListQuery) ticketdb.Page {
	p := ticketdb.Page{Status: q.Status, Assignee: q.Assignee, SortBy: q.SortBy, Desc: q.Order == "desc", Limit: q.Limit}
	if q.After != nil {
		p.After = &ticketdb.Position{Value: q.After.Value, ID: q.After.ID}
	}
	return p
}
