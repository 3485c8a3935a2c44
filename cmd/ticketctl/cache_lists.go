package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
)

// Why a list page is skipped.
const (
	skipCursor       = "cursor pages not audited"
	skipUnrecognised = "unrecognised list key"
)

// listKey is a parsed list key: the page's query and generation.
type listKey struct {
	q   ticketcache.ListQuery
	gen int64
}

// parseListKey reads a key with the scheme's own parser, and keeps only pages the query
// service could have cached: anything else is not read by it.
func (au *auditor) parseListKey(key string) (listKey, bool) {
	q, gen, ok := au.keys.ParseList(key)
	valid := ok && ticket.ValidSort(q.SortBy) && (q.Order == "asc" || q.Order == "desc") &&
		q.Limit >= 1 && q.Limit <= 200 && (q.Status == "" || ticket.ValidStatus(q.Status)) && gen >= 0
	return listKey{q: q, gen: gen}, valid
}

// cachedPage is a list page as the query service caches it (the GET /tickets body).
type cachedPage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

// checkLists audits list pages: a page of an older generation is superseded (never served
// again); a current first page must equal its query re-run now.
func (au *auditor) checkLists(ctx context.Context, keys []string, p *progress) ([]finding, error) {
	var out []finding
	for batch := range slices.Chunk(keys, auditBatch) {
		parsed := map[string]listKey{}
		var fetch []string
		for _, k := range batch {
			lk, ok := au.parseListKey(k)
			if !ok {
				out = append(out, finding{Key: k, Kind: kindList, Verdict: verdictSkipped, Reason: skipUnrecognised})
				continue
			}
			parsed[k] = lk
			fetch = append(fetch, k, au.keys.Gen(lk.q.Status, lk.q.Assignee))
		}
		vals, err := getAll(ctx, au.rdb, fetch)
		if err != nil {
			return nil, err
		}
		err = readOnly(ctx, au.db, au.timeout, func(ctx context.Context, tx pgx.Tx) error {
			for _, k := range batch {
				lk, ok := parsed[k]
				page, cached := vals[k]
				if !ok || !cached {
					continue // unrecognised (reported above), or expired since the scan
				}
				f, err := au.judgePage(ctx, tx, k, lk, page, vals[au.keys.Gen(lk.q.Status, lk.q.Assignee)])
				if err != nil {
					return err
				}
				out = append(out, f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		p.add(len(batch))
	}
	return out, nil
}

func (au *auditor) judgePage(ctx context.Context, tx pgx.Tx, key string, lk listKey, page, genVal []byte) (finding, error) {
	f := finding{Key: key, Kind: kindList, Verdict: verdictStale}
	var cur int64
	if genVal != nil {
		n, err := strconv.ParseInt(string(genVal), 10, 64)
		if err != nil {
			f.Reason = fmt.Sprintf("generation counter %s holds %q, not a number", au.keys.Gen(lk.q.Status, lk.q.Assignee), genVal)
			return f, nil
		}
		cur = n
	}
	switch {
	case lk.gen < cur:
		f.Verdict, f.Reason = verdictSuperseded, fmt.Sprintf("generation g%d, current is g%d", lk.gen, cur)
		return f, nil
	case lk.gen > cur:
		// Not served now, but it would be once later changes move the counter up to it.
		f.Reason = fmt.Sprintf("generation g%d is ahead of the counter (g%d): later changes would bring it back", lk.gen, cur)
		return f, nil
	case lk.q.Cursor != "":
		f.Verdict, f.Reason = verdictSkipped, skipCursor
		return f, nil
	}
	var cp cachedPage
	if err := json.Unmarshal(page, &cp); err != nil {
		f.Reason = "not a list page: " + err.Error()
		return f, nil
	}
	rows, err := firstPage(ctx, tx, lk.q)
	if err != nil {
		return f, err
	}
	if reason := pageDiff(cp, rows, lk.q.Limit); reason != "" {
		f.Reason = reason
		return f, nil
	}
	f.Verdict = verdictFresh
	return f, nil
}

// firstPage runs the list's page query (ticketdb's, as the query service runs it) without a
// cursor, for one row more than the limit to learn whether more follow.
func firstPage(ctx context.Context, tx pgx.Tx, q ticketcache.ListQuery) ([]row, error) {
	sql, args := ticketdb.PageSQL(ticketdb.Page{Status: q.Status, Assignee: q.Assignee, SortBy: q.SortBy,
		Desc: q.Order == "desc", Limit: q.Limit + 1})
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list query: %w", err)
	}
	out, err := collectRows(rows, false)
	if err != nil {
		return nil, fmt.Errorf("list query: %w", err)
	}
	return out, nil
}

// pageDiff says how a cached page differs from the query's rows ("" when it does not).
func pageDiff(cp cachedPage, rows []row, limit int) string {
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	if len(cp.Items) != len(rows) {
		return fmt.Sprintf("%d items cached, the query returns %d", len(cp.Items), len(rows))
	}
	for i, raw := range cp.Items {
		t, err := decodeTicket(raw)
		if err != nil {
			return fmt.Sprintf("item %d is not a ticket: %v", i, err)
		}
		if t.ID != rows[i].t.ID {
			return fmt.Sprintf("item %d is %s, the query has %s there", i, t.ID, rows[i].t.ID)
		}
		if d := ticketDiff(t, rows[i].t); d != "" {
			return fmt.Sprintf("item %d (%s): %s", i, t.ID, d)
		}
	}
	switch {
	case more && cp.NextCursor == nil:
		return "next_cursor is null but more tickets follow"
	case !more && cp.NextCursor != nil:
		return "next_cursor is set but no more tickets follow"
	}
	return ""
}
