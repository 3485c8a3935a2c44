// Package readdb is the query side's Postgres adapter: keyset-paginated
// lists and single-ticket reads on a pool that cannot write.
package readdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Open returns a pool on url whose every session has
// default_transaction_read_only=on, so each statement runs in a read-only
// transaction and a write fails with SQLSTATE 25006 whatever the code asks
// for. In production url is a read replica, read-only anyway, and the login
// should hold only tickets_reader; this guard makes the same true on a
// primary. (PgBouncer refuses startup parameters it does not know: behind
// one, configure it to pass this one on, or rely on the replica and the
// role.)
//
// The pool connects lazily, so the service starts while Postgres is down and
// /readyz tells when it answers.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("config: READ_DATABASE_URL: not a valid PostgreSQL URL")
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "ticketsys-query"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}
