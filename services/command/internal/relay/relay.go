// Package relay publishes the outbox to JetStream. One relay is active at a
// time (a Postgres advisory lock held by its session); it publishes unsent
// rows in id order and marks a row sent only after JetStream acknowledged it.
package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// lockKey is the advisory lock that elects the active relay of a database.
const lockKey int64 = 0x7469636b6574 // "ticket"

// Config tunes the relay.
type Config struct {
	Stream         ticketevent.StreamOptions
	PollInterval   time.Duration // fallback when a notification is lost
	BatchSize      int
	PublishTimeout time.Duration // well inside the stream's duplicate window
	Retention      time.Duration // how long sent rows are kept
	PruneInterval  time.Duration
	RetryInterval  time.Duration   // pause after a database or lock failure
	Timeouts       pgpool.Timeouts // of its session, so a stuck statement ends and the lock passes on
}

// Relay moves outbox rows to the stream.
type Relay struct {
	cfg     Config
	dbURL   string
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	metrics *Metrics
	// unacked is set when a publish ended without its acknowledgement
	// (timed out, or abandoned): its bytes may still be on their way.
	unacked atomic.Bool
}

// New makes a relay; js must have been made with a publish-async timeout.
func New(cfg Config, dbURL string, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger, m *Metrics) *Relay {
	return &Relay{cfg: cfg, dbURL: dbURL, nc: nc, js: js, log: log, metrics: m}
}

// Run works until ctx ends, reconnecting and re-electing after failures.
func (r *Relay) Run(ctx context.Context) error {
	for {
		err := r.lead(ctx)
		r.metrics.Leader.Set(0)
		r.release()
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("outbox relay interrupted; retrying", "error", err, "retry_in", r.cfg.RetryInterval)
		if !lifecycle.Sleep(ctx, r.cfg.RetryInterval) {
			return nil
		}
	}
}

// lead holds one database session: wait for the lock, then publish until
// something fails. Closing the session releases the lock for another relay.
func (r *Relay) lead(ctx context.Context) error {
	// Parsed as the pool parses it, so pool settings in DATABASE_URL
	// (pool_max_conns, ...) are not sent to Postgres as session parameters.
	pcfg, err := pgxpool.ParseConfig(r.dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	r.cfg.Timeouts.Apply(pcfg.ConnConfig.RuntimeParams)
	conn, err := pgx.ConnectConfig(ctx, pcfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())

	for {
		var locked bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey).Scan(&locked); err != nil {
			return fmt.Errorf("try lock: %w", err)
		}
		if locked {
			break
		}
		if !lifecycle.Sleep(ctx, r.cfg.RetryInterval) {
			return ctx.Err()
		}
	}
	if _, err := conn.Exec(ctx, `LISTEN outbox`); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	r.metrics.Leader.Set(1)
	r.log.Info("outbox relay active", "stream", r.cfg.Stream.Name)

	streamReady := false
	var lastPrune, lastObserve time.Time
	for {
		connected := r.nc.IsConnected()
		if !streamReady && connected {
			streamReady = r.ensureStream(ctx)
		}
		if streamReady && connected {
			if err := r.drain(ctx, conn); err != nil {
				if isPublishErr(err) {
					r.log.Warn("outbox publish failed; rows wait", "error", err)
				} else {
					return err
				}
			}
		}
		// The backlog gauges need not follow every batch: once a second
		// spares the database a count per wake-up under load.
		if time.Since(lastObserve) >= time.Second {
			if err := r.observe(ctx, conn); err != nil {
				return err
			}
			lastObserve = time.Now()
		}
		if time.Since(lastPrune) >= r.cfg.PruneInterval {
			if err := r.prune(ctx, conn); err != nil {
				return err
			}
			lastPrune = time.Now()
		}
		if err := r.wait(ctx, conn); err != nil {
			return err
		}
	}
}

// release ends a leadership (the session, and the lock with it, is gone or
// going) so that nothing this relay published can reach the stream after
// another relay took over: a copy of v5 stored after the new leader's v6,
// once the 2-minute duplicate window is past, would be stored as new, out
// of order. Publishes still waiting for their acknowledgement get
// PublishTimeout to end; if some have not, or an acknowledgement timed
// out, their bytes may sit in a half-open connection, so the connection is
// dropped (natsconn.NoLateWrites: unsent bytes discarded, no reconnect
// buffer) and the futures with it.
func (r *Relay) release() {
	if r.js.PublishAsyncPending() > 0 {
		t := time.NewTimer(r.cfg.PublishTimeout)
		select {
		case <-r.js.PublishAsyncComplete():
		case <-t.C:
		}
		t.Stop()
	}
	unacked := r.unacked.Swap(false)
	if r.js.PublishAsyncPending() == 0 && !unacked {
		return
	}
	r.log.Warn("outbox relay dropping its NATS connection: publishes of its leadership were never acknowledged")
	if err := r.nc.ForceReconnect(); err != nil {
		r.log.Warn("outbox relay: reconnecting NATS", "error", err)
	}
	r.js.CleanupPublisher()
}

// wait returns on a notification or after the poll interval.
func (r *Relay) wait(ctx context.Context, conn *pgx.Conn) error {
	wctx, cancel := context.WithTimeout(ctx, r.cfg.PollInterval)
	defer cancel()
	_, err := conn.WaitForNotification(wctx)
	switch {
	case err == nil, ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded):
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return fmt.Errorf("wait for notification: %w", err)
	}
}

func (r *Relay) ensureStream(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout)
	defer cancel()
	if _, err := r.js.CreateOrUpdateStream(sctx, r.cfg.Stream.Config()); err != nil {
		r.log.Warn("stream not ready; outbox rows wait", "stream", r.cfg.Stream.Name, "error", err)
		return false
	}
	return true
}

func (r *Relay) observe(ctx context.Context, conn *pgx.Conn) error {
	var (
		backlog int64
		oldest  *time.Time
	)
	if err := conn.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE published_at IS NULL`).
		Scan(&backlog, &oldest); err != nil {
		return fmt.Errorf("observe backlog: %w", err)
	}
	r.metrics.Backlog.Set(float64(backlog))
	age := 0.0
	if oldest != nil {
		age = time.Since(*oldest).Seconds()
	}
	r.metrics.OldestAge.Set(age)
	return nil
}

func (r *Relay) prune(ctx context.Context, conn *pgx.Conn) error {
	tag, err := conn.Exec(ctx, `DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)`,
		r.cfg.Retention.Seconds())
	if err != nil {
		return fmt.Errorf("prune outbox: %w", err)
	}
	if n := tag.RowsAffected(); n > 0 {
		r.log.Debug("outbox pruned", "rows", n)
	}
	return nil
}
