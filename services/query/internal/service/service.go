// Package service wires the query service together: one place that knows
// every dependency, used by main and by the end-to-end tests.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
	"github.com/ticketsys/ticketsys/services/query/internal/readdb"
	"github.com/ticketsys/ticketsys/services/query/internal/rediscache"
	"github.com/ticketsys/ticketsys/services/query/internal/ticketapi"
)

// Service is a wired query service.
type Service struct {
	Handler  http.Handler
	Pool     *pgxpool.Pool // read only; exposed for tests
	Guard    *rediscache.Guard
	rdb      redis.UniversalClient
	verifier *auth.Verifier
}

// Option changes the wiring; tests use them to count or interleave loads.
type Option func(*options)

type options struct {
	wrapStore func(app.Store) app.Store
	hooks     app.Hooks
}

// WithStore wraps the Postgres store, e.g. to count queries.
func WithStore(wrap func(app.Store) app.Store) Option {
	return func(o *options) { o.wrapStore = wrap }
}

// WithHooks installs app.Hooks.
func WithHooks(h app.Hooks) Option {
	return func(o *options) { o.hooks = h }
}

// New builds the service. Neither Postgres nor Redis need be up: the pool
// connects lazily (and /readyz reports it), and reads bypass a Redis that
// does not answer.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (*Service, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return nil, err
	}
	pool, err := readdb.Open(ctx, cfg.ReadDatabaseURL)
	if err != nil {
		verifier.Close()
		return nil, err
	}
	rdb, err := rediscache.NewClient(cfg.RedisURL, cfg.RedisCluster, cfg.RedisTimeout)
	if err != nil {
		pool.Close()
		verifier.Close()
		return nil, err
	}
	s := &Service{Pool: pool, rdb: rdb, verifier: verifier}
	if err := s.build(cfg, log, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Service) build(cfg config.Config, log *slog.Logger, o options) error {
	reg := httpx.NewRegistry()
	httpMetrics, err := httpx.NewMetrics(reg)
	if err != nil {
		return err
	}
	cacheMetrics, err := app.NewMetrics(reg)
	if err != nil {
		return err
	}
	breakerState := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "redis_circuit_breaker_state",
		Help: "The Redis circuit breaker: 0 closed (Redis in use), 1 half-open (probing), 2 open (reads bypass Redis).",
	})
	if err := reg.Register(breakerState); err != nil {
		return fmt.Errorf("register breaker metric: %w", err)
	}
	reg.MustRegister(poolmetrics.NewPgx(s.Pool, "read"), poolmetrics.NewRedis(s.rdb))

	cache := ticketcache.New(s.rdb, ticketcache.Keys{Prefix: cfg.CacheKeyPrefix}, cfg.CacheTTL())
	s.Guard = rediscache.NewGuard(cache, cfg.RedisRetryInterval, log, breakerState)
	var store app.Store = readdb.New(s.Pool)
	if o.wrapStore != nil {
		store = o.wrapStore(store)
	}
	codec := cursor.NewCodec(cfg.CursorKey())
	queries := app.New(store, s.Guard, codec, log, cacheMetrics, o.hooks)

	engine := httpx.NewEngine(log, httpMetrics, httpx.WithTracing("query"))
	// Reads need only Postgres: with Redis down they bypass the cache, so
	// Redis is not a readiness condition (/redis-health reports it).
	httpx.RegisterOps(engine, reg, httpx.Check{Name: "postgres", Fn: s.Pool.Ping})
	ticketapi.Routes(engine, queries, codec, s.rdb, s.verifier, log)
	s.Handler = engine
	return nil
}

// Close releases the connections after the server stopped.
func (s *Service) Close() {
	_ = s.rdb.Close()
	s.Pool.Close()
	s.verifier.Close()
}
