package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// TicketResult is one ticket read. Found is false for an unknown or deleted
// ticket; Source is set on errors too.
type TicketResult struct {
	Body    []byte // the API JSON
	Version int64
	Found   bool
	Source  Source
}

// ticketLoad is what one shared load produced.
type ticketLoad struct {
	res    TicketResult
	cached bool // found in Redis on the re-check: another load filled it first
}

// Ticket reads ticket id (a canonical UUID): Redis, else Postgres once per
// instance however many readers miss at the same time, then a version-fenced
// write back (a tombstone for a deleted ticket).
func (q *Queries) Ticket(ctx context.Context, id string) (TicketResult, error) {
	key := q.cache.Keys().Ticket(id)
	missed := q.landed.now()
	e, found, err := q.cache.GetTicket(ctx, id)
	switch {
	case err != nil:
		q.observe(ctx, "ticket", Bypass, key, err)
		return q.loadTicket(ctx, id, Bypass, missed)
	case found:
		q.observe(ctx, "ticket", Hit, key, nil)
		return fromEntry(e, Hit), nil
	}
	q.observe(ctx, "ticket", Miss, key, nil)
	return q.loadTicket(ctx, id, Miss, missed)
}

func (q *Queries) loadTicket(ctx context.Context, id string, src Source, missed uint64) (TicketResult, error) {
	// One flight per id whatever the callers' sources: they all share its
	// one query.
	flight := "ticket:" + id
	v, err, _ := q.flights.Do(flight, func() (any, error) {
		lctx, cancel := detached(ctx)
		defer cancel()
		defer q.landed.mark(flight)
		return q.fillTicket(lctx, id, q.landed.since(flight, missed))
	})
	if err != nil {
		return TicketResult{Source: src}, err
	}
	l := v.(ticketLoad)
	res := l.res
	res.Source = src
	if l.cached {
		res.Source = Hit
	}
	return res, nil
}

// fillTicket runs once per flight. recheck closes the gap between a
// reader's miss and its turn to load: a load that finished in between has
// filled the cache, so the reader takes that instead of querying again. It
// runs for a BYPASS too: while the breaker is open it costs nothing, and
// after a one-off Redis error it spares Postgres.
func (q *Queries) fillTicket(ctx context.Context, id string, recheck bool) (ticketLoad, error) {
	if recheck {
		if e, found, err := q.cache.GetTicket(ctx, id); err == nil && found {
			return ticketLoad{res: fromEntry(e, Hit), cached: true}, nil
		}
	}
	q.metrics.loads.WithLabelValues("ticket").Inc()
	row, err := q.store.Ticket(ctx, id)
	if errors.Is(err, ticket.ErrNotFound) {
		// Never cached: a negative entry would hide a ticket created on the
		// primary until its event arrives, and ids are not guessable anyway.
		return ticketLoad{}, nil
	}
	if err != nil {
		return ticketLoad{}, err
	}
	res := TicketResult{Version: row.Ticket.Version, Found: !row.Deleted}
	if !row.Deleted {
		if res.Body, err = json.Marshal(row.Ticket); err != nil {
			return ticketLoad{}, fmt.Errorf("encode ticket: %w", err)
		}
	}
	var stored bool
	if row.Deleted {
		stored, err = q.cache.SetTombstone(ctx, id, row.Ticket.Version)
	} else {
		stored, err = q.cache.SetTicket(ctx, row.Ticket)
	}
	q.afterFill(ctx, "ticket", q.cache.Keys().Ticket(id), stored, err)
	return ticketLoad{res: res}, nil
}

// afterFill records a cache write that failed or that the fence refused.
// Either way the reader still answers with what it read.
func (q *Queries) afterFill(ctx context.Context, kind, key string, stored bool, err error) {
	switch {
	case err != nil:
		q.log.DebugContext(ctx, "cache fill failed", "kind", kind, "key", key, "error", err.Error())
	case !stored:
		q.metrics.staleRefused.WithLabelValues(kind).Inc()
		q.log.DebugContext(ctx, "cache fill refused: a newer version is cached", "kind", kind, "key", key)
	}
}

func fromEntry(e ticketcache.Entry, src Source) TicketResult {
	return TicketResult{Body: e.JSON, Version: e.Version, Found: !e.Deleted, Source: src}
}
