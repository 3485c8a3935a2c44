// Package postgres is the command side's Postgres adapter: every change is
// one transaction that writes the ticket, its outbox row and, for idempotent
// requests, the idempotency key. Driver errors leave it as the use cases'
// own errors (ticket.ErrNotFound, ticket.ErrUnavailable, ...).
package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
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

var wrap = ticketdb.Wrap

const selectForUpdate = `SELECT ` + ticketdb.Columns + ` FROM tickets WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`

// Create implements app.Store.
func (s *Store) Create(ctx context.Context, t ticket.Ticket, rec app.OutboxRecord, idem *app.Idempotency) (*ticket.Ticket, error) {
	var replay *ticket.Ticket
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if idem != nil {
			r, err := claimKey(ctx, tx, idem)
			if err != nil || r != nil {
				replay = r
				return err
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO tickets (id, title, description, status, priority,
			assignee, reporter, tags, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			t.ID, t.Title, t.Description, t.Status, t.Priority, t.Assignee, t.Reporter, t.Tags,
			t.Version, t.CreatedAt, t.UpdatedAt); err != nil {
			return err
		}
		if err := insertOutbox(ctx, tx, rec); err != nil {
			return err
		}
		if idem != nil {
			return storeKey(ctx, tx, idem, t)
		}
		return nil
	})
	return replay, wrap("create ticket", err)
}

// Update implements app.Store. The row lock serialises writers of one ticket,
// which also orders their outbox ids by version.
func (s *Store) Update(ctx context.Context, id string, fn app.UpdateFunc) (ticket.Ticket, error) {
	var out ticket.Ticket
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		next, rec, err := fn(cur)
		if err != nil {
			return err
		}
		out = next
		if rec == nil {
			return nil // no-op write: nothing to store, nothing to publish
		}
		if _, err := tx.Exec(ctx, `UPDATE tickets SET title = $2, description = $3, status = $4,
			priority = $5, assignee = $6, reporter = $7, tags = $8, version = $9, updated_at = $10
			WHERE id = $1`,
			next.ID, next.Title, next.Description, next.Status, next.Priority, next.Assignee,
			next.Reporter, next.Tags, next.Version, next.UpdatedAt); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, *rec)
	})
	return out, wrap("update ticket", err)
}

// Delete implements app.Store: the row stays as a tombstone with the next
// version, so the version sequence of a ticket never repeats.
func (s *Store) Delete(ctx context.Context, id string, fn func(ticket.Ticket) (app.OutboxRecord, error)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := lockTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		rec, err := fn(cur)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE tickets SET deleted_at = $2, updated_at = $2, version = $3
			WHERE id = $1`, id, time.Now().UTC(), rec.Version); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, rec)
	})
	return wrap("delete ticket", err)
}

func lockTicket(ctx context.Context, tx pgx.Tx, id string) (ticket.Ticket, error) {
	var t ticket.Ticket
	err := tx.QueryRow(ctx, selectForUpdate, id).Scan(ticketdb.ScanFields(&t)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ticket.ErrNotFound
	}
	if err != nil {
		return t, err
	}
	ticketdb.Normalize(&t)
	return t, nil
}

func insertOutbox(ctx context.Context, tx pgx.Tx, rec app.OutboxRecord) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (event_id, ticket_id, version, headers, payload)
		VALUES ($1, $2, $3, $4, $5)`, rec.EventID, rec.TicketID, rec.Version, rec.Headers, rec.Payload)
	return err
}
