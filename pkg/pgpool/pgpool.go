// Package pgpool opens the services' Postgres pools from DATABASE_URL (or
// READ_DATABASE_URL), traced with otelpgx when tracing is on and named in
// pg_stat_activity, and
// tells a Postgres outage from a bug, so the adapters can say which it was.
package pgpool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// DefaultURL is the contract's DATABASE_URL default.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable"

// Config is the Postgres block: the primary.
type Config struct {
	URL string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable"`
}

// Validate parses the URL the way Open will, so a typo stops the process at
// start; the error never quotes the URL, which may hold a password.
func (c Config) Validate() error { return CheckURL("DATABASE_URL", c.URL) }

// CheckURL is Validate for a URL read from another variable.
func CheckURL(variable, url string) error {
	if _, err := pgxpool.ParseConfig(url); err != nil {
		return errors.New(variable + ": not a valid PostgreSQL URL")
	}
	return nil
}

// Options tune a pool.
type Options struct {
	// AppName is application_name, unless the URL sets one.
	AppName string
	// ReadOnly sets default_transaction_read_only=on for every session, so
	// a write fails with SQLSTATE 25006 whatever the code asks for.
	// (PgBouncer refuses startup parameters it does not know: behind one,
	// configure it to pass this one on, or rely on the replica and the
	// role.)
	ReadOnly bool
	// Timeouts bound every session's statements, lock waits and idle
	// transactions.
	Timeouts Timeouts
}

// Timeouts are Postgres session settings that keep a stuck statement, a
// lock held elsewhere or an abandoned transaction from holding a request,
// a connection or a lock for ever. Zero leaves the server's setting (e.g.
// ALTER ROLE ... SET), as does a value in the URL, which wins. Like
// ReadOnly they are startup parameters: behind PgBouncer, let it pass them
// on or set them zero and on the role.
type Timeouts struct {
	Statement         time.Duration // statement_timeout
	Lock              time.Duration // lock_timeout
	IdleInTransaction time.Duration // idle_in_transaction_session_timeout
}

// Apply sets the timeouts in a connection's runtime parameters.
func (t Timeouts) Apply(params map[string]string) {
	for name, d := range map[string]time.Duration{
		"statement_timeout":                   t.Statement,
		"lock_timeout":                        t.Lock,
		"idle_in_transaction_session_timeout": t.IdleInTransaction,
	} {
		if _, set := params[name]; !set && d > 0 {
			params[name] = strconv.FormatInt(max(d.Milliseconds(), 1), 10)
		}
	}
}

// Open returns a pool on url (checked already). It connects lazily, so a
// service starts while Postgres is down and /readyz tells when it answers.
func Open(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("not a valid PostgreSQL URL")
	}
	if o.ReadOnly {
		cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	}
	o.Timeouts.Apply(cfg.ConnConfig.RuntimeParams)
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" && o.AppName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = o.AppName
	}
	if tracing.On() {
		cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}

// Unavailable tells a Postgres outage (refused, unreachable, timed out, a
// connection lost mid-query, a request abandoned, a lock or statement
// timeout) from a bug: the first is a 503 with Retry-After, the second a
// 500.
func Unavailable(err error) bool {
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
		pgErr   *pgconn.PgError
	)
	if errors.As(err, &pgErr) {
		// lock_not_available (lock_timeout) and query_canceled
		// (statement_timeout): busy, not broken; a retry may well succeed.
		// Class 08 (connection exception) and 57P01-57P03 (the server
		// shutting down, crashed, or not yet accepting): an outage.
		return pgErr.Code == "55P03" || pgErr.Code == "57014" ||
			strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		// The connection dropped mid-reply (found by make chaos: a cut
		// Postgres answered 500 instead of 503).
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}
