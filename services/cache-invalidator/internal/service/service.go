// Package service wires the cache-invalidator together: one place that knows
// every dependency, used by main and by the tests.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/config"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/worker"
)

// Service is a wired cache-invalidator: the ops HTTP handler and the worker.
type Service struct {
	Handler http.Handler
	Worker  *worker.Worker
	Metrics *worker.Metrics
	rdb     redis.UniversalClient
	nc      *nats.Conn
}

// New builds the service. Neither NATS nor Redis need be up: the NATS
// connection retries in the background, the worker waits for its stream,
// and failed cache writes are redelivered.
func New(cfg config.Config, log *slog.Logger) (*Service, error) {
	rdb, err := NewRedis(cfg)
	if err != nil {
		return nil, err
	}
	nc, err := natsconn.Connect(cfg.NATSURL, cfg.NATSCreds, "ticketsys-cache-invalidator", log)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	closeAll := func() { nc.Close(); _ = rdb.Close() }
	js, err := jetstream.New(nc)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	reg := httpx.NewRegistry()
	httpMetrics, err := httpx.NewMetrics(reg)
	if err != nil {
		closeAll()
		return nil, err
	}
	wm, err := worker.NewMetrics(reg)
	if err != nil {
		closeAll()
		return nil, err
	}
	cache := ticketcache.New(rdb, ticketcache.Keys{Prefix: cfg.CacheKeyPrefix}, cfg.CacheTTL())
	w := worker.New(WorkerConfig(cfg), js, cache, log, wm)
	reg.MustRegister(w.LagCollector(), poolmetrics.NewRedis(rdb))

	engine := httpx.NewEngine(log, httpMetrics)
	httpx.RegisterOps(engine, reg,
		httpx.Check{Name: "nats", Fn: func(context.Context) error { return natsUp(nc) }},
		httpx.Check{Name: "redis", Fn: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		httpx.Check{Name: "consumer", Fn: w.Ready},
	)
	return &Service{Handler: engine, Worker: w, Metrics: wm, rdb: rdb, nc: nc}, nil
}

// WorkerConfig maps the environment onto the worker's settings.
func WorkerConfig(cfg config.Config) worker.Config {
	return worker.Config{
		Stream:        ticketevent.StreamOptions{Name: cfg.StreamName, SubjectPrefix: cfg.SubjectPrefix},
		Consumer:      cfg.ConsumerName,
		DLQ:           ticketevent.StreamOptions{Name: cfg.DLQStreamName, SubjectPrefix: cfg.DLQPrefix, Replicas: cfg.DLQReplicas, MaxAge: cfg.DLQMaxAge},
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: cfg.MaxAckPending,
		RetryMin:      cfg.RetryMin,
		RetryMax:      cfg.RetryMax,
		Concurrency:   cfg.Concurrency,
		AttachRetry:   time.Second,
		// Well inside AckWait, so a slow Redis cannot make the server
		// redeliver a message that is still being handled.
		OpTimeout:       min(5*time.Second, cfg.AckWait/3),
		PurgeGrace:      cfg.ShutdownTimeout,
		ListRebumpDelay: cfg.ListRebumpDelay,
	}
}

// NewRedis opens the client REDIS_URL and REDIS_CLUSTER describe.
func NewRedis(cfg config.Config) (redis.UniversalClient, error) {
	return redisconn.Open(cfg.RedisURL, cfg.RedisCluster, redisconn.Tuning{ClientName: "ticketsys-cache-invalidator"})
}

// RedisLogger routes go-redis's own messages (dial failures while Redis is
// down) into the service's structured log instead of bare stderr lines.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's logger interface.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Log.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}

var errNATSDown = errors.New("not connected")

func natsUp(nc *nats.Conn) error {
	if !nc.IsConnected() {
		return errNATSDown
	}
	return nil
}

// Close releases the connections after the worker stopped.
func (s *Service) Close() {
	_ = s.nc.Drain()
	_ = s.rdb.Close()
}
