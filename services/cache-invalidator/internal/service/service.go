// Package service wires the cache-invalidator together: the one place that
// knows every dependency, and the binary's command line. main and the tests
// start it through App.
package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/config"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/worker"
)

// App is the cache-invalidator binary.
var App = svcmain.App{
	Name: "cache-invalidator",
	Summary: "keeps the Redis cache in step with the ticket events: it consumes stream TICKETS with " +
		"the durable consumer cache-invalidator, refreshes ticket:{id} and invalidates the list pages " +
		"a change affects. Its HTTP address serves only /healthz, /readyz and /metrics.",
	Commands: []svcmain.Command{
		svcmain.NewCommand("serve", "consume the events and serve the ops endpoints (the default)",
			config.Default(), serve),
	},
}

// serve runs the consumer. Neither NATS nor Redis need be up: the NATS
// connection retries in the background, the worker waits for its stream,
// and failed cache writes are redelivered.
func serve(ctx context.Context, p *svcmain.Process, cfg config.Config) error {
	redisconn.SetLogger(p.Log)
	rdb, err := cfg.Redis.Open(redisconn.Tuning{ClientName: "ticketsys-cache-invalidator"})
	if err != nil {
		return err
	}
	// A hung server (a stalled machine, a partition) is left after ~6 s of
	// unanswered pings, for another node, instead of nats.go's 6 minutes:
	// its pull request is lost with it, and missed heartbeats alone would
	// only send a new one down the same dead connection.
	nc, err := cfg.NATS.Connect("ticketsys-cache-invalidator", p.Log, natsconn.Liveness(2*time.Second, 2)...)
	if err != nil {
		_ = rdb.Close()
		return err
	}
	// The worker stops before these close: it hands buffered messages back
	// and lets in-flight ones finish first.
	closers := []func(){func() { _ = rdb.Close() }, func() { _ = nc.Drain() }}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		_ = rdb.Close()
		return fmt.Errorf("jetstream: %w", err)
	}
	reg := p.Metrics
	httpMetrics, err := httpx.NewMetrics(reg)
	if err != nil {
		nc.Close()
		_ = rdb.Close()
		return err
	}
	wm, err := worker.NewMetrics(reg)
	if err != nil {
		nc.Close()
		_ = rdb.Close()
		return err
	}
	wcfg := WorkerConfig(cfg)
	cache := ticketcache.New(rdb, cfg.Cache.Keys(), cfg.Cache.TTL(),
		ticketcache.WaitReplicas(cfg.RedisWaitReplicas, min(redisWaitTimeout, wcfg.OpTimeout/2)))
	if cfg.LossCheckInterval > 0 {
		wcfg.Loss = ticketcache.NewLossDetector(rdb, cfg.Cache.Keys())
	}
	w := worker.New(wcfg, js, invalidation.New(cache, cfg.ListRebumpDelay, p.Log), p.Log, wm)
	reg.MustRegister(w.LagCollector(), poolmetrics.NewRedis(rdb))

	engine := httpx.NewEngine(p.Log, httpMetrics)
	httpx.RegisterOps(engine, p.Registry,
		httpx.Check{Name: "nats", Fn: func(context.Context) error { return natsUp(nc) }},
		httpx.Check{Name: "redis", Fn: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		httpx.Check{Name: "consumer", Fn: w.Ready},
	)
	return p.Serve(ctx, cfg.HTTP, lifecycle.Spec{
		Handler: engine,
		Workers: []lifecycle.Worker{{Name: "consumer", Run: w.Run}},
		Closers: closers,
	})
}

// WorkerConfig maps the environment onto the worker's settings.
func WorkerConfig(cfg config.Config) worker.Config {
	dlq := ticketevent.StreamOptions{
		Name: cfg.DLQStreamName, SubjectPrefix: cfg.DLQPrefix, Replicas: cfg.DLQReplicas,
		MaxAge: cfg.DLQMaxAge, MaxMsgs: cfg.DLQMaxMsgs, MaxBytes: cfg.DLQMaxBytes,
	}
	return worker.Config{
		Stream:        ticketevent.StreamOptions{Name: cfg.Stream.Name, SubjectPrefix: cfg.Stream.SubjectPrefix},
		Consumer:      cfg.ConsumerName,
		DLQ:           dlq,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: cfg.MaxAckPending,
		RetryMin:      cfg.RetryMin,
		RetryMax:      cfg.RetryMax,
		Concurrency:   cfg.Concurrency,
		AttachRetry:   time.Second,
		// Well inside AckWait, so a slow Redis cannot make the server
		// redeliver a message that is still being handled.
		OpTimeout:     min(5*time.Second, cfg.AckWait/3),
		PurgeGrace:    cfg.HTTP.ShutdownTimeout,
		PullExpiry:    cfg.PullExpiry,
		PullHeartbeat: cfg.PullHeartbeat,
		LossInterval:  cfg.LossCheckInterval,
		ReplayWindow:  cfg.ReplayWindow,
	}
}

// redisWaitTimeout bounds a write's wait for its replicas (REDIS_WAIT_REPLICAS):
// a replica in sync acknowledges within milliseconds, and the wait must end
// well inside the handler's OpTimeout (hence at most half of it) and
// go-redis's 3 s read timeout.
const redisWaitTimeout = time.Second

var errNATSDown = errors.New("not connected")

func natsUp(nc *nats.Conn) error {
	if !nc.IsConnected() {
		return errNATSDown
	}
	return nil
}
