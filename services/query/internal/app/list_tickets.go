package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// ListResult is one list page: its JSON and where it came from.
type ListResult struct {
	Body   []byte
	Source Source
}

// page is the list response body.
type page struct {
	Items      []ticket.Ticket `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

type listLoad struct {
	body   []byte
	cached bool
}

// List reads one page. The generation of the page's filters is read before
// Postgres is: a change committed after that read bumps the generation, so
// a page computed from older data is stored under a key nobody reads again
// (no stale set).
func (q *Queries) List(ctx context.Context, lq ListQuery) (ListResult, error) {
	ck := ticketcache.ListQuery{Status: lq.Status, Assignee: lq.Assignee, SortBy: lq.SortBy,
		Order: lq.Order, Limit: lq.Limit, Cursor: lq.Cursor}
	keys := q.cache.Keys()
	missed := q.landed.now()
	guess := q.gens.slot(keys.Gen(lq.Status, lq.Assignee))
	gen, key, b, found, err := q.cache.GenerationAndList(ctx, ck, guess.Load())
	switch {
	case err != nil:
		q.observe(ctx, "list", Bypass, keys.Gen(lq.Status, lq.Assignee), err)
		return q.loadList(ctx, lq, keys.List(ck, -1), Bypass, missed)
	case found:
		guess.Store(gen)
		q.observe(ctx, "list", Hit, key, nil)
		return ListResult{Body: b, Source: Hit}, nil
	}
	guess.Store(gen)
	q.observe(ctx, "list", Miss, key, nil)
	return q.loadList(ctx, lq, key, Miss, missed)
}

func (q *Queries) loadList(ctx context.Context, lq ListQuery, key string, src Source, missed uint64) (ListResult, error) {
	useCache := src == Miss
	// key names the generation, or is generation -1 for a BYPASS.
	flight := "list:" + key
	v, err, _ := q.flights.Do(flight, func() (any, error) {
		lctx, cancel := detached(ctx)
		defer cancel()
		defer q.landed.mark(flight)
		return q.fillList(lctx, lq, key, useCache, useCache && q.landed.since(flight, missed))
	})
	if err != nil {
		return ListResult{Source: src}, err
	}
	l := v.(listLoad)
	if l.cached {
		src = Hit
	}
	return ListResult{Body: l.body, Source: src}, nil
}

func (q *Queries) fillList(ctx context.Context, lq ListQuery, key string, useCache, recheck bool) (listLoad, error) {
	if recheck {
		if b, found, err := q.cache.GetList(ctx, key); err == nil && found {
			return listLoad{body: b, cached: true}, nil
		}
	}
	q.metrics.loads.WithLabelValues("list").Inc()
	// One row more than the page tells whether a next page exists, so the
	// last page has no cursor and nobody fetches an empty page.
	probe := lq
	probe.Limit = lq.Limit + 1
	rows, err := q.store.List(ctx, probe)
	if err != nil {
		return listLoad{}, err
	}
	p := page{Items: rows}
	if len(rows) > lq.Limit {
		p.Items = rows[:lq.Limit]
		last := p.Items[lq.Limit-1]
		next := q.codec.Encode(lq.Scope(), cursor.Of(lq.SortBy, last))
		p.NextCursor = &next
	}
	body, err := json.Marshal(p)
	if err != nil {
		return listLoad{}, fmt.Errorf("encode page: %w", err)
	}
	if !useCache {
		return listLoad{body: body}, nil
	}
	q.afterFill(ctx, "list", key, true, q.cache.SetList(ctx, key, body))
	return listLoad{body: body}, nil
}

// Scope is what a cursor of lq's list is bound to; the HTTP layer decodes
// cursors against it at the edge.
func (lq ListQuery) Scope() cursor.Scope {
	return cursor.Scope{SortBy: lq.SortBy, Order: lq.Order, Status: lq.Status, Assignee: lq.Assignee}
}
