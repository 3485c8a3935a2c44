// Package service wires the command service together: one place that knows
// every dependency, used by main and by the end-to-end tests.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
	"github.com/ticketsys/ticketsys/services/command/internal/config"
	"github.com/ticketsys/ticketsys/services/command/internal/relay"
	"github.com/ticketsys/ticketsys/services/command/internal/ticketapi"
	"github.com/ticketsys/ticketsys/services/command/internal/ticketdb"
)

// Service is a wired command service.
type Service struct {
	Handler  http.Handler
	Relay    *relay.Relay
	pool     *pgxpool.Pool
	nc       *nats.Conn
	verifier *auth.Verifier
}

// New connects to Postgres and NATS and builds the HTTP handler and relay.
// NATS need not be up: writes only need Postgres, and the relay catches up.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Service, error) {
	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return nil, err
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errors.New("config: DATABASE_URL: not a valid PostgreSQL URL")
	}
	poolCfg.ConnConfig.Tracer = otelpgx.NewTracer()
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	nc, err := natsconn.Connect(cfg.NATSURL, cfg.NATSCreds, "ticketsys-command", log)
	if err != nil {
		pool.Close()
		return nil, err
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second),
		jetstream.WithPublishAsyncMaxPending(cfg.BatchSize*2))
	if err != nil {
		pool.Close()
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}

	reg := httpx.NewRegistry()
	reg.MustRegister(poolmetrics.NewPgx(pool, "primary"))
	httpMetrics, err := httpx.NewMetrics(reg)
	if err != nil {
		pool.Close()
		nc.Close()
		return nil, err
	}
	stream := ticketevent.StreamOptions{
		Name: cfg.StreamName, SubjectPrefix: cfg.SubjectPrefix,
		Replicas: cfg.StreamReplicas, MaxAge: cfg.StreamMaxAge,
	}
	rl := relay.New(relay.Config{
		Stream:         stream,
		PollInterval:   cfg.PollInterval,
		BatchSize:      cfg.BatchSize,
		PublishTimeout: 5 * time.Second,
		Retention:      cfg.Retention,
		PruneInterval:  time.Minute,
		RetryInterval:  time.Second,
	}, cfg.DatabaseURL, nc, js, log, relay.NewMetrics(reg))

	cmds := app.New(ticketdb.New(pool), cfg.EventSource)
	engine := httpx.NewEngine(log, httpMetrics, httpx.WithTracing("command"))
	// Writes need only Postgres: with NATS down they still succeed and wait
	// in the outbox, so NATS is not a readiness condition.
	httpx.RegisterOps(engine, reg, httpx.Check{Name: "postgres", Fn: pool.Ping})
	ticketapi.Routes(engine, cmds, verifier, log)
	return &Service{Handler: engine, Relay: rl, pool: pool, nc: nc, verifier: verifier}, nil
}

// Close releases the connections after the server and relay stopped.
func (s *Service) Close() {
	_ = s.nc.Drain()
	s.pool.Close()
	s.verifier.Close()
}
