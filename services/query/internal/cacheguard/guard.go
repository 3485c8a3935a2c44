package cacheguard

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// ErrOpen is returned without touching Redis while the breaker is open.
var ErrOpen = errors.New("redis circuit breaker is open")

// tripAfter consecutive failures open the breaker. A few, not one: a single
// timeout on a busy Redis should not send every read to Postgres.
const tripAfter = 3

// Guard is a ticketcache.Cache whose every call passes a circuit breaker.
// Closed: calls go to Redis. After tripAfter consecutive failures it opens
// and calls fail at once with ErrOpen; after retryAfter one call probes
// Redis (half-open) and its outcome closes or reopens the breaker.
type Guard struct {
	cache *ticketcache.Cache
	cb    *gobreaker.CircuitBreaker[struct{}]
}

// NewGuard wraps cache. state, if not nil, is set to 0 (closed), 1
// (half-open) or 2 (open) on every change, which is also logged.
func NewGuard(cache *ticketcache.Cache, retryAfter time.Duration, log *slog.Logger, state prometheus.Gauge) *Guard {
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "redis",
		MaxRequests: 1,
		Timeout:     retryAfter,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= tripAfter },
		// A caller that went away, or a wait for a pooled connection during
		// a burst, says nothing about Redis.
		IsExcluded: func(err error) bool {
			return errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrPoolTimeout)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			level := slog.LevelWarn
			if to == gobreaker.StateClosed {
				level = slog.LevelInfo
			}
			log.Log(context.Background(), level, "redis circuit breaker", "from", from.String(), "to", to.String())
			if state != nil {
				state.Set(float64(to))
			}
		},
	})
	return &Guard{cache: cache, cb: cb}
}

// State is the breaker's state now.
func (g *Guard) State() gobreaker.State { return g.cb.State() }

func (g *Guard) do(fn func() error) error {
	_, err := g.cb.Execute(func() (struct{}, error) { return struct{}{}, fn() })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return ErrOpen
	}
	return err
}

// Keys implements app.Cache.
func (g *Guard) Keys() ticketcache.Keys { return g.cache.Keys() }

// GetTicket implements app.Cache.
func (g *Guard) GetTicket(ctx context.Context, id string) (e ticketcache.Entry, found bool, err error) {
	err = g.do(func() error {
		var err error
		e, found, err = g.cache.GetTicket(ctx, id)
		return err
	})
	return e, found, err
}

// SetTicket implements app.Cache.
func (g *Guard) SetTicket(ctx context.Context, t ticket.Ticket) (stored bool, err error) {
	err = g.do(func() error {
		var err error
		stored, err = g.cache.SetTicket(ctx, t)
		return err
	})
	return stored, err
}

// SetTombstone implements app.Cache.
func (g *Guard) SetTombstone(ctx context.Context, id string, version int64) (stored bool, err error) {
	err = g.do(func() error {
		var err error
		stored, err = g.cache.SetTombstone(ctx, id, version)
		return err
	})
	return stored, err
}

// Generation implements app.Cache.
func (g *Guard) Generation(ctx context.Context, q ticketcache.ListQuery) (gen int64, err error) {
	err = g.do(func() error {
		var err error
		gen, err = g.cache.Generation(ctx, q)
		return err
	})
	return gen, err
}

// GenerationAndList implements app.Cache.
func (g *Guard) GenerationAndList(ctx context.Context, q ticketcache.ListQuery, guess int64) (gen int64, key string, b []byte, found bool, err error) {
	err = g.do(func() error {
		var err error
		gen, key, b, found, err = g.cache.GenerationAndList(ctx, q, guess)
		return err
	})
	return gen, key, b, found, err
}

// GetList implements app.Cache.
func (g *Guard) GetList(ctx context.Context, key string) (b []byte, found bool, err error) {
	err = g.do(func() error {
		var err error
		b, found, err = g.cache.GetList(ctx, key)
		return err
	})
	return b, found, err
}

// SetList implements app.Cache.
func (g *Guard) SetList(ctx context.Context, key string, payload []byte) error {
	return g.do(func() error { return g.cache.SetList(ctx, key, payload) })
}
