// Package app holds the query side's use cases: a ticket and a list page,
// each read cache-aside (Redis first, Postgres on a miss) with one
// Postgres query per key and instance however many readers miss at once.
package app

import (
	"context"
	"log/slog"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// Source says where a response came from; it is the X-Cache header.
type Source string

// The X-Cache values.
const (
	Hit    Source = "HIT"    // from Redis
	Miss   Source = "MISS"   // Redis answered without it: from Postgres, then cached
	Bypass Source = "BYPASS" // Redis unreachable (or its breaker open): from Postgres only
)

// loadTimeout bounds a shared load. It is detached from the request that
// started it, so one client hanging up does not fail everybody waiting on
// the same key.
const loadTimeout = 5 * time.Second

// Row is a ticket as stored, deleted or not.
type Row struct {
	Ticket  ticket.Ticket
	Deleted bool
}

// ListQuery is one validated list request.
type ListQuery struct {
	Status   string // "" for any
	Assignee string // "" for any
	SortBy   string
	Order    string // "asc" or "desc"
	Limit    int
	Cursor   string      // as the client sent it; part of the cache key
	After    *cursor.Key // Cursor decoded; nil on the first page
}

// Store is the read model in Postgres.
type Store interface {
	// Ticket returns the row, also when deleted; ticket.ErrNotFound if none.
	Ticket(ctx context.Context, id string) (Row, error)
	// List returns up to q.Limit live tickets after q.After in q's order.
	List(ctx context.Context, q ListQuery) ([]ticket.Ticket, error)
}

// Cache is the Redis key scheme of pkg/ticketcache behind a circuit breaker
// (see cacheguard.Guard). Any error means "Redis is not usable now".
type Cache interface {
	Keys() ticketcache.Keys
	GetTicket(ctx context.Context, id string) (ticketcache.Entry, bool, error)
	SetTicket(ctx context.Context, t ticket.Ticket) (bool, error)
	SetTombstone(ctx context.Context, id string, version int64) (bool, error)
	Generation(ctx context.Context, q ticketcache.ListQuery) (int64, error)
	GenerationAndList(ctx context.Context, q ticketcache.ListQuery, guess int64) (gen int64, key string, page []byte, found bool, err error)
	GetList(ctx context.Context, key string) ([]byte, bool, error)
	SetList(ctx context.Context, key string, payload []byte) error
}

// Queries answers reads.
type Queries struct {
	store   Store
	cache   Cache
	codec   cursor.Codec
	log     *slog.Logger
	metrics *Metrics
	flights singleflight.Group
	landed  *landed
	gens    *guesses
}

// New returns the read use cases.
func New(store Store, cache Cache, codec cursor.Codec, log *slog.Logger, m *Metrics) *Queries {
	return &Queries{store: store, cache: cache, codec: codec, log: log, metrics: m, landed: newLanded(), gens: newGuesses()}
}

// observe counts a cache lookup and logs it at debug level.
func (q *Queries) observe(ctx context.Context, kind string, src Source, key string, err error) {
	q.metrics.requests.WithLabelValues(kind, resultLabel(src)).Inc()
	if !q.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", httpx.RequestIDFrom(ctx)),
		slog.String("kind", kind), slog.String("result", string(src)), slog.String("key", key),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	q.log.LogAttrs(ctx, slog.LevelDebug, "cache lookup", attrs...)
}

// detached is the context of a shared load.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
}
