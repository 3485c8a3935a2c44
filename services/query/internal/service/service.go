// Package service wires the query service together: the one place that
// knows every dependency, and the binary's command line. main starts it
// through App; tests build the handler with New.
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
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/poolmetrics"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cacheguard"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
	"github.com/ticketsys/ticketsys/services/query/internal/postgres"
	"github.com/ticketsys/ticketsys/services/query/internal/ticketapi"
)

// App is the query binary.
var App = svcmain.App{
	Name: "query",
	Summary: "the ticket read service. It answers reads from Redis, cache-aside, falling back to " +
		"Postgres (a read replica in production) on a miss or when Redis is down.",
	Commands: []svcmain.Command{
		svcmain.NewCommand("serve", "serve the read API (the default)", config.Default(), serve),
	},
}

func serve(ctx context.Context, p *svcmain.Process, cfg config.Config) error {
	redisconn.SetLogger(p.Log)
	svc, err := New(ctx, cfg, p.Log, p.Metrics, p.Registry)
	if err != nil {
		return err
	}
	return p.Serve(ctx, cfg.HTTP, lifecycle.Spec{Handler: svc.Handler, Closers: []func(){svc.Close}},
		"cache_ttl_seconds", cfg.Cache.TTLSeconds, "redis_cluster", cfg.Redis.Cluster)
}

// Service is a wired query service.
type Service struct {
	Handler  http.Handler
	Pool     *pgxpool.Pool // read only; exposed for tests
	Guard    *cacheguard.Guard
	rdb      redis.UniversalClient
	verifier *auth.Verifier
}

// Option changes the wiring.
type Option func(*options)

type options struct {
	wrapStore func(app.Store) app.Store
}

// WithStore wraps the Postgres store; tests count its queries or act
// between a read and the cache write that follows it.
func WithStore(wrap func(app.Store) app.Store) Option {
	return func(o *options) { o.wrapStore = wrap }
}

// New builds the service. Neither Postgres nor Redis need be up: the pool
// connects lazily (and /readyz reports it), and reads bypass a Redis that
// does not answer. It registers its metrics on reg and serves g at /metrics.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, reg prometheus.Registerer, g prometheus.Gatherer, opts ...Option) (*Service, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	verifier, err := auth.NewVerifier(cfg.Auth)
	if err != nil {
		return nil, err
	}
	pool, err := pgpool.Open(ctx, cfg.ReadURL(), pgpool.Options{AppName: "ticketsys-query", ReadOnly: true})
	if err != nil {
		verifier.Close()
		return nil, err
	}
	rdb, err := cacheguard.NewClient(cfg.Redis, cfg.RedisTimeout)
	if err != nil {
		pool.Close()
		verifier.Close()
		return nil, err
	}
	s := &Service{Pool: pool, rdb: rdb, verifier: verifier}
	if err := s.build(cfg, log, reg, g, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Service) build(cfg config.Config, log *slog.Logger, reg prometheus.Registerer, g prometheus.Gatherer, o options) error {
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

	cache := ticketcache.New(s.rdb, cfg.Cache.Keys(), cfg.Cache.TTL())
	s.Guard = cacheguard.NewGuard(cache, cfg.RedisRetryInterval, log, breakerState)
	var store app.Store = postgres.New(s.Pool)
	if o.wrapStore != nil {
		store = o.wrapStore(store)
	}
	keys := cfg.CursorKeys()
	codec := cursor.NewCodec(keys[0], keys[1:]...)
	queries := app.New(store, s.Guard, codec, log, cacheMetrics)

	engine := httpx.NewEngine(log, httpMetrics, httpx.WithTracing("query"))
	// Reads need only Postgres: with Redis down they bypass the cache, so
	// Redis is not a readiness condition (/redis-health reports it).
	httpx.RegisterOps(engine, g, httpx.Check{Name: "postgres", Fn: s.Pool.Ping})
	ticketapi.Routes(engine, queries, codec, s.rdb, s.verifier, log, httpx.Limit(cfg.HTTP.MaxInFlight, cfg.HTTP.QueueWait))
	s.Handler = engine
	return nil
}

// Close releases the connections after the server stopped.
func (s *Service) Close() {
	_ = s.rdb.Close()
	s.Pool.Close()
	s.verifier.Close()
}
