// Package redisconn opens the Redis client every part of the system uses:
// one REDIS_URL (redis:// or rediss:// for TLS, as on ElastiCache) and one
// REDIS_CLUSTER switch give a single-node or a Cluster client behind
// redis.UniversalClient, with OpenTelemetry spans on every command when
// tracing is on.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// ErrBadURL is the one-line configuration error; the parser's own message
// is not used because it may quote the URL, password included.
var ErrBadURL = errors.New("REDIS_URL: not a valid redis:// or rediss:// URL")

// Config is the Redis block of every process that uses the cache.
type Config struct {
	URL     string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	Cluster bool   `env:"REDIS_CLUSTER" envDefault:"false"`
}

// Validate parses the URL the way Open will, so a typo stops a process at
// start instead of turning every read into a BYPASS.
func (c Config) Validate() error { return Validate(c.URL, c.Cluster) }

// Open returns the client c describes; see the package function.
func (c Config) Open(t Tuning) (redis.UniversalClient, error) { return Open(c.URL, c.Cluster, t) }

// Tuning overrides the client's defaults; a zero field keeps go-redis's.
type Tuning struct {
	DialTimeout, ReadTimeout, WriteTimeout, PoolTimeout time.Duration
	MaxRetries                                          int // -1: never retry
	ClientName                                          string
}

// Validate parses url the way Open will, so a typo stops a process at start.
func Validate(url string, cluster bool) error {
	var err error
	if cluster {
		_, err = redis.ParseClusterURL(url)
	} else {
		_, err = redis.ParseURL(url)
	}
	if err != nil {
		return ErrBadURL
	}
	return nil
}

// Open returns the client for url. Nothing is dialled before the first
// command, so a process starts while Redis is down.
func Open(url string, cluster bool, t Tuning) (redis.UniversalClient, error) {
	var rdb redis.UniversalClient
	if cluster {
		opts, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, ErrBadURL
		}
		t.apply(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.PoolTimeout, &opts.MaxRetries, &opts.ClientName)
		// go-redis reloads the slot map on MOVED or every 60 s, not when a
		// master stops answering: after a failover it kept sending a slot's
		// commands to the dead master for up to a minute (found by make
		// chaos-cluster). A refused or broken connection now reloads it at
		// once (go-redis coalesces reloads), and the map is never older
		// than a few seconds.
		opts.ClusterStateReloadInterval = clusterReloadInterval
		cc := redis.NewClusterClient(opts)
		cc.AddHook(reloadOnNetError{cc})
		rdb = cc
	} else {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, ErrBadURL
		}
		t.apply(&opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.PoolTimeout, &opts.MaxRetries, &opts.ClientName)
		rdb = redis.NewClient(opts)
	}
	if tracing.On() {
		if err := redisotel.InstrumentTracing(rdb); err != nil {
			_ = rdb.Close()
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	return rdb, nil
}

func (t Tuning) apply(dial, read, write, pool *time.Duration, retries *int, name *string) {
	set := func(dst *time.Duration, v time.Duration) {
		if v != 0 {
			*dst = v
		}
	}
	set(dial, t.DialTimeout)
	set(read, t.ReadTimeout)
	set(write, t.WriteTimeout)
	set(pool, t.PoolTimeout)
	if t.MaxRetries != 0 {
		*retries = t.MaxRetries
	}
	if t.ClientName != "" {
		*name = t.ClientName
	}
}

// SetLogger sends go-redis's own messages (a failed dial while Redis is
// down, for one) to log at debug level: the breaker's and the worker's own
// lines say what matters, once, instead of a line per dial. go-redis keeps
// one logger per process, so each main calls this once.
func SetLogger(log *slog.Logger) { redis.SetLogger(libraryLog{log: log}) }

type libraryLog struct{ log *slog.Logger }

func (l libraryLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

// clusterReloadInterval bounds how old a Cluster client's slot map gets.
const clusterReloadInterval = 5 * time.Second

// reloadOnNetError reloads a Cluster client's slot map when a command or
// pipeline fails because its node did not answer: the slot's master may
// have moved to a promoted replica.
type reloadOnNetError struct{ cc *redis.ClusterClient }

func (reloadOnNetError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNetError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		ReloadIfMoved(ctx, h.cc, err)
		return err
	}
}

func (h reloadOnNetError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		ReloadIfMoved(ctx, h.cc, err)
		return err
	}
}

// ReloadIfMoved reloads a Cluster client's slot map (go-redis coalesces
// reloads) when err says a slot's primary may have moved: its node did not
// answer, or it answered MOVED or ASK. Commands sent to one node's own
// client (a WAIT after the writes on its connection) bypass the client's
// hook and call it themselves. Any other client, or error, is left alone.
func ReloadIfMoved(ctx context.Context, rdb redis.UniversalClient, err error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if ok && (NodeDown(err) || redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK")) {
		cc.ReloadState(ctx)
	}
}

// NodeDown reports an error of a node that did not answer (refused,
// reset, closed, timed out), as opposed to an answer Redis gave.
func NodeDown(err error) bool {
	var netErr net.Error
	return err != nil && (errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNREFUSED))
}
