package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// keyTTL is how long a created ticket is replayed for its key.
const keyTTL = "24 hours"

// claimKey makes the transaction the only one working on the key, or finds
// the key's ticket. A committed key is read first, without a lock, so
// concurrent retries of a finished request all replay it. Otherwise a
// transaction-scoped advisory lock, tried without waiting, tells a request
// still in flight (409) apart; once held, the key is read again, since the
// request that held it may have committed just before.
func claimKey(ctx context.Context, tx pgx.Tx, idem *app.Idempotency) (*ticket.Ticket, error) {
	if t, found, err := readKey(ctx, tx, idem); found || err != nil {
		return t, err
	}
	lockKey := fmt.Sprintf("idem:%d:%s:%s", len(idem.Subject), idem.Subject, idem.Key)
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, lockKey).
		Scan(&locked); err != nil {
		return nil, fmt.Errorf("lock idempotency key: %w", err)
	}
	if !locked {
		return nil, app.ErrIdempotencyInFlight
	}
	t, _, err := readKey(ctx, tx, idem)
	return t, err
}

// readKey finds a fresh key: its ticket when the request matches (a
// replay), ErrIdempotencyMismatch when it does not. An expired key is
// deleted and counts as absent.
func readKey(ctx context.Context, tx pgx.Tx, idem *app.Idempotency) (*ticket.Ticket, bool, error) {
	var (
		hash  []byte
		body  []byte
		fresh bool
	)
	err := tx.QueryRow(ctx, `SELECT request_hash, ticket, created_at > now() - interval '`+keyTTL+`'
		FROM idempotency_keys WHERE subject = $1 AND key = $2`, idem.Subject, idem.Key).
		Scan(&hash, &body, &fresh)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("read idempotency key: %w", err)
	case !fresh:
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE subject = $1 AND key = $2`,
			idem.Subject, idem.Key); err != nil {
			return nil, false, fmt.Errorf("expire idempotency key: %w", err)
		}
		return nil, false, nil
	case !bytes.Equal(hash, idem.RequestHash):
		return nil, true, app.ErrIdempotencyMismatch
	}
	var t ticket.Ticket
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, true, fmt.Errorf("read idempotency key: %w", err)
	}
	return &t, true, nil
}

func storeKey(ctx context.Context, tx pgx.Tx, idem *app.Idempotency, t ticket.Ticket) error {
	body, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (subject, key, request_hash, ticket)
		VALUES ($1, $2, $3, $4)`, idem.Subject, idem.Key, idem.RequestHash, body); err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	return nil
}

// PruneKeys deletes the keys older than their replay window; several
// instances may run it at once.
func (s *Store) PruneKeys(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - interval '`+keyTTL+`'`)
	if err != nil {
		return 0, wrap("prune idempotency keys", err)
	}
	return tag.RowsAffected(), nil
}
