// Package cacheguard puts the query service's cache (pkg/ticketcache) behind
// a circuit breaker, on a Redis client that fails fast, so that a Redis
// outage costs reads one short timeout, not one per request.
package cacheguard

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

const clientName = "ticketsys-query"

// poolTimeout bounds the wait for a free connection. It is no sign of an
// outage (a burst of reads queues for the pool's connections, each busy for
// well under a millisecond), so it is at least a second, longer than the
// default I/O timeout, and the breaker does not count it (see Guard).
func poolTimeout(io time.Duration) time.Duration { return max(io, time.Second) }

// dialTimeout is longer than the I/O timeout: a burst on a cold instance
// dials many connections at once, and a refused connection fails at once
// anyway. A blackholed host costs the first requests this long, until the
// breaker opens.
func dialTimeout(io time.Duration) time.Duration { return max(io, time.Second) }

// NewClient returns a single-node or Cluster client for url (redis:// or
// rediss:// for TLS, as on ElastiCache) that fails fast: every dial, read,
// write and pool wait is bounded, and nothing is retried, since a read that
// cannot use Redis goes to Postgres instead of waiting.
func NewClient(cfg redisconn.Config, timeout time.Duration) (redis.UniversalClient, error) {
	return cfg.Open(redisconn.Tuning{
		DialTimeout: dialTimeout(timeout), ReadTimeout: timeout, WriteTimeout: timeout,
		PoolTimeout: poolTimeout(timeout), MaxRetries: -1, ClientName: clientName,
	})
}

// Ping measures one round trip. The error is a short generic reason, safe to
// show without a token: never a host name or a password.
func Ping(ctx context.Context, rdb redis.UniversalClient) (time.Duration, error) {
	start := time.Now()
	err := rdb.Ping(ctx).Err()
	if err != nil {
		return 0, errors.New(reason(err))
	}
	return time.Since(start), nil
}

func reason(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "redis did not answer in time"
	case errors.As(err, &netErr), errors.Is(err, redis.ErrClosed):
		return "redis is unreachable"
	default:
		return "redis answered with an error"
	}
}
