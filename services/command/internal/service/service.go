// Package service wires the command service together: the one place that
// knows every dependency, and the binary's subcommands. main and the tests
// start it the same way, through App.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
	"github.com/ticketsys/ticketsys/services/command/internal/config"
	"github.com/ticketsys/ticketsys/services/command/internal/postgres"
	"github.com/ticketsys/ticketsys/services/command/internal/relay"
	"github.com/ticketsys/ticketsys/services/command/internal/ticketapi"
)

// App is the command binary.
var App = svcmain.App{
	Name: "command",
	Summary: "the ticket write service. It validates writes, stores each ticket with its " +
		"TicketChanged event in one Postgres transaction, and relays the outbox to NATS JetStream.",
	Commands: []svcmain.Command{
		svcmain.NewCommand("serve", "serve the write API and relay the outbox (the default)",
			config.DefaultServe(), serve),
		svcmain.NewCommand("migrate", "apply the database migrations and exit",
			config.Migrate{}, migrate),
	},
}

// Intervals of the housekeeping the relay does not do.
const (
	pruneKeysEvery = time.Minute
	// publishTimeout bounds the wait for one publish's acknowledgement. A
	// publish sent while the stream has no leader (an election) is never
	// answered; its rows are retried after this, so it bounds how long the
	// relay lags behind a new leader. Short is safe: acknowledgements come
	// in order, so each round makes progress, and a publish retried after a
	// late acknowledgement is dropped as a duplicate (Nats-Msg-Id, 2-minute
	// window).
	publishTimeout = time.Second
)

// The relay's NATS pings: a server that stops answering is dropped after
// about 6 s (nats.go's default: 2 minutes times 3, past the duplicate window).
const (
	natsPingInterval = 2 * time.Second
	natsMaxPingsOut  = 2
)

func migrate(ctx context.Context, p *svcmain.Process, cfg config.Migrate) error {
	return ticketdb.Migrate(ctx, cfg.DB.URL, p.Log)
}

// serve runs the HTTP API, the outbox relay and the pruning of expired
// idempotency keys. Writes need only Postgres: with NATS down they still
// succeed and wait in the outbox, so NATS is not a readiness condition.
func serve(ctx context.Context, p *svcmain.Process, cfg config.Serve) error {
	if cfg.MigrateOnStart {
		if err := ticketdb.Migrate(ctx, cfg.DB.URL, p.Log); err != nil {
			return err
		}
	}
	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return err
	}
	closers := []func(){verifier.Close}
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	pool, err := pgpool.Open(ctx, cfg.DB.URL, pgpool.Options{AppName: "ticketsys-command",
		Timeouts: cfg.DBTimeouts.Pool()})
	if err != nil {
		closeAll()
		return err
	}
	closers = append(closers, pool.Close)
	// The relay's connection only: a publish must reach JetStream soon or
	// never (see relay.Relay.release), so no reconnect buffer, unsent bytes
	// dropped with a closed connection, and a dead server noticed within
	// natsPingInterval*(natsMaxPingsOut+1), far inside the stream's 2-minute
	// duplicate window.
	natsOpts := append(natsconn.NoLateWrites(), natsconn.Liveness(natsPingInterval, natsMaxPingsOut)...)
	nc, err := cfg.NATS.Connect("ticketsys-command", p.Log, natsOpts...)
	if err != nil {
		closeAll()
		return err
	}
	closers = append(closers, func() { _ = nc.Drain() })
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout),
		jetstream.WithPublishAsyncMaxPending(cfg.Relay.BatchSize*2))
	if err != nil {
		closeAll()
		return fmt.Errorf("jetstream: %w", err)
	}

	reg := p.Metrics
	reg.MustRegister(poolmetrics.NewPgx(pool, "primary"))
	httpMetrics, err := httpx.NewMetrics(reg)
	if err != nil {
		closeAll()
		return err
	}
	store := postgres.New(pool)
	engine := httpx.NewEngine(p.Log, httpMetrics, httpx.WithTracing(p.Name))
	httpx.RegisterOps(engine, p.Registry, httpx.Check{Name: "postgres", Fn: pool.Ping})
	ticketapi.Routes(engine, app.New(store, cfg.EventSource), verifier, p.Log,
		httpx.Limit(cfg.HTTP.MaxInFlight, cfg.HTTP.QueueWait))

	workers := []lifecycle.Worker{lifecycle.Every("idempotency key pruning", pruneKeysEvery, p.Log,
		func(ctx context.Context) error { _, err := store.PruneKeys(ctx); return err })}
	if cfg.Relay.Enabled {
		rl := relay.New(relay.Config{
			Stream:         cfg.StreamOptions(),
			PollInterval:   cfg.Relay.PollInterval,
			BatchSize:      cfg.Relay.BatchSize,
			PublishTimeout: publishTimeout,
			Retention:      cfg.Relay.Retention,
			PruneInterval:  time.Minute,
			RetryInterval:  time.Second,
			Timeouts:       cfg.RelayTimeouts(),
		}, cfg.DB.URL, nc, js, p.Log, relay.NewMetrics(reg))
		// In-flight requests finish before the relay stops; rows they wrote
		// that it has not sent stay in the outbox for whichever relay runs next.
		workers = append(workers, lifecycle.Worker{Name: "outbox relay", Run: rl.Run})
	}
	return p.Serve(ctx, cfg.HTTP, lifecycle.Spec{Handler: engine, Workers: workers, Closers: closers})
}
