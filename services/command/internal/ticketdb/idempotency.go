package ticketdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// KeyTTL is how long a stored response is replayed.
const KeyTTL = "24 hours"

// claimKey makes the transaction the only one working on the key. A
// transaction-scoped advisory lock, tried without waiting, tells a concurrent
// request apart (409) from a later one, which finds the committed response
// (replay) or a response to another body (422).
func claimKey(ctx context.Context, tx pgx.Tx, idem *app.Idempotency) (*app.StoredResponse, error) {
	lockKey := fmt.Sprintf("idem:%d:%s:%s", len(idem.Subject), idem.Subject, idem.Key)
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, lockKey).
		Scan(&locked); err != nil {
		return nil, fmt.Errorf("lock idempotency key: %w", err)
	}
	if !locked {
		return nil, app.ErrIdempotencyInFlight
	}

	var (
		hash  []byte
		resp  app.StoredResponse
		fresh bool
	)
	err := tx.QueryRow(ctx, `SELECT request_hash, status_code, headers, body,
		created_at > now() - interval '`+KeyTTL+`'
		FROM idempotency_keys WHERE subject = $1 AND key = $2`, idem.Subject, idem.Key).
		Scan(&hash, &resp.Status, &resp.Headers, &resp.Body, &fresh)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read idempotency key: %w", err)
	case !fresh:
		if _, err := tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE subject = $1 AND key = $2`,
			idem.Subject, idem.Key); err != nil {
			return nil, fmt.Errorf("expire idempotency key: %w", err)
		}
		return nil, nil
	case !bytes.Equal(hash, idem.RequestHash):
		return nil, app.ErrIdempotencyMismatch
	}
	return &resp, nil
}

func storeResponse(ctx context.Context, tx pgx.Tx, idem *app.Idempotency, t ticket.Ticket) error {
	resp, err := idem.Render(t)
	if err != nil {
		return fmt.Errorf("render idempotent response: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (subject, key, request_hash, status_code, headers, body)
		VALUES ($1, $2, $3, $4, $5, $6)`, idem.Subject, idem.Key, idem.RequestHash,
		resp.Status, resp.Headers, resp.Body); err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	return nil
}
