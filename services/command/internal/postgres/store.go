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

const insertTicket = `INSERT INTO tickets (id, title, description, status, priority, assignee, reporter, tags,
	version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`

const insertOutbox = `INSERT INTO outbox (event_id, ticket_id, version, headers, payload) VALUES ($1, $2, $3, $4, $5)`

// Create implements app.Store. Without an idempotency key the ticket and
// its outbox row go in one batch, one round trip: a batch without
// transaction statements runs as one implicit transaction.
func (s *Store) Create(ctx context.Context, t ticket.Ticket, rec app.OutboxRecord, idem *app.Idempotency) (*ticket.Ticket, error) {
	if idem == nil {
		b := &pgx.Batch{}
		queueTicket(b, t)
		queueOutbox(b, rec)
		return nil, wrap("create ticket", s.pool.SendBatch(ctx, b).Close())
	}
	var replay *ticket.Ticket
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		r, err := claimKey(ctx, tx, idem)
		if err != nil || r != nil {
			replay = r
			return err
		}
		b := &pgx.Batch{}
		queueTicket(b, t)
		queueOutbox(b, rec)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return storeKey(ctx, tx, idem, t)
	})
	return replay, wrap("create ticket", err)
}

func queueTicket(b *pgx.Batch, t ticket.Ticket) {
	b.Queue(insertTicket, t.ID, t.Title, t.Description, t.Status, t.Priority, t.Assignee, t.Reporter, t.Tags,
		t.Version, t.CreatedAt, t.UpdatedAt)
}

func queueOutbox(b *pgx.Batch, rec app.OutboxRecord) {
	b.Queue(insertOutbox, rec.EventID, rec.TicketID, rec.Version, rec.Headers, rec.Payload)
}

// Update implements app.Store. The row lock serialises writers of one
// ticket, which also orders their outbox ids by version.
func (s *Store) Update(ctx context.Context, id string, fn app.UpdateFunc) (ticket.Ticket, error) {
	var out ticket.Ticket
	err := s.change(ctx, id, func(cur ticket.Ticket, b *pgx.Batch) error {
		next, rec, err := fn(cur)
		if err != nil {
			return err
		}
		out = next
		if rec == nil {
			return nil // no-op write: nothing to store, nothing to publish
		}
		b.Queue(`UPDATE tickets SET title = $2, description = $3, status = $4, priority = $5, assignee = $6,
			reporter = $7, tags = $8, version = $9, updated_at = $10 WHERE id = $1`,
			next.ID, next.Title, next.Description, next.Status, next.Priority, next.Assignee,
			next.Reporter, next.Tags, next.Version, next.UpdatedAt)
		queueOutbox(b, *rec)
		return nil
	})
	return out, wrap("update ticket", err)
}

// Delete implements app.Store: the row stays as a tombstone with the next
// version, so the version sequence of a ticket never repeats.
func (s *Store) Delete(ctx context.Context, id string, fn func(ticket.Ticket) (app.OutboxRecord, error)) error {
	err := s.change(ctx, id, func(cur ticket.Ticket, b *pgx.Batch) error {
		rec, err := fn(cur)
		if err != nil {
			return err
		}
		b.Queue(`UPDATE tickets SET deleted_at = $2, updated_at = $2, version = $3 WHERE id = $1`,
			id, time.Now().UTC(), rec.Version)
		queueOutbox(b, rec)
		return nil
	})
	return wrap("delete ticket", err)
}

// change runs a read-modify-write of one ticket in two round trips: BEGIN
// and the row lock in one batch, then decide's statements and COMMIT in
// another. decide queues nothing for a write that changes nothing.
func (s *Store) change(ctx context.Context, id string, decide func(cur ticket.Ticket, b *pgx.Batch) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		// Whatever failed, leave no transaction open on the pooled
		// connection (the pool closes one that is still in a transaction).
		if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	first := &pgx.Batch{}
	first.Queue("BEGIN")
	first.Queue(selectForUpdate, id)
	br := conn.SendBatch(ctx, first)
	var cur ticket.Ticket
	if _, err = br.Exec(); err == nil {
		err = br.QueryRow().Scan(ticketdb.ScanFields(&cur)...)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ticket.ErrNotFound
	}
	if err != nil {
		return err
	}
	ticketdb.Normalize(&cur)
	second := &pgx.Batch{}
	if err = decide(cur, second); err != nil {
		return err
	}
	second.Queue("COMMIT")
	return conn.SendBatch(ctx, second).Close()
}
