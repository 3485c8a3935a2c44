package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
)

// checkConvergence compares a snapshot of the cache with Postgres: every
// ticket:{id} key, and every list page cached under its filters' current
// generation (older generations are never read again). Both sides are read
// in a few round trips, so the verdict is about one moment, not spread over
// a long comparison.
func checkConvergence(t testing.TB, s *stack) convergence {
	t.Helper()
	ctx := context.Background()
	pg := loadPostgres(ctx, t, s)
	cached := loadRedis(ctx, t, s)
	keys := s.cache.Keys()
	var c convergence
	for key, raw := range cached {
		switch {
		case strings.HasPrefix(key, keys.Ticket("")):
			c.tickets++
			if d := compareTicket(pg, strings.TrimPrefix(key, keys.Ticket("")), raw); d != "" {
				c.diffs = append(c.diffs, d)
			}
		case strings.HasPrefix(key, keys.ListPrefix()):
			// Only first pages are compared; the tests never send a cursor.
			q, gen, ok := keys.ParseList(key)
			if !ok || q.Cursor != "" {
				t.Errorf("unexpected list key %s", key)
				continue
			}
			cur, _ := strconv.ParseInt(cached[keys.Gen(q.Status, q.Assignee)], 10, 64) // absent: 0
			if gen != cur {
				continue
			}
			c.pages++
			if d := comparePage(pg, key, q, raw); d != "" {
				c.diffs = append(c.diffs, d)
			}
		}
	}
	slices.Sort(c.diffs)
	return c
}

// loadRedis reads every key under the test's prefix: SCAN, then MGET.
func loadRedis(ctx context.Context, t testing.TB, s *stack) map[string]string {
	t.Helper()
	var keys []string
	iter := s.rdb.Scan(ctx, 0, s.cache.Keys().Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(keys))
	for chunk := range slices.Chunk(keys, 500) {
		vals, err := s.rdb.MGet(ctx, chunk...).Result()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if str, ok := v.(string); ok { // nil: expired since the scan
				out[chunk[i]] = str
			}
		}
	}
	return out
}

// pgState is every row of the test's database.
type pgState struct {
	rows      map[string]ticket.Ticket
	deleted   map[string]bool
	titleRank map[string]int // position in ORDER BY title, id: Postgres's collation, not Go's byte order
}

func loadPostgres(ctx context.Context, t testing.TB, s *stack) pgState {
	t.Helper()
	rows, err := s.pool.Query(ctx, `SELECT `+ticketdb.Columns+`, deleted_at IS NOT NULL,
		row_number() OVER (ORDER BY title, id) FROM tickets`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	pg := pgState{rows: map[string]ticket.Ticket{}, deleted: map[string]bool{}, titleRank: map[string]int{}}
	for rows.Next() {
		var tk ticket.Ticket
		var deleted bool
		var rank int
		if err := rows.Scan(ticketdb.ScanFields(&tk, &deleted, &rank)...); err != nil {
			t.Fatal(err)
		}
		ticketdb.Normalize(&tk)
		pg.rows[tk.ID], pg.deleted[tk.ID], pg.titleRank[tk.ID] = tk, deleted, rank
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pg
}

func compareTicket(pg pgState, id, raw string) string {
	probe, err := ticketcache.ParseEntry([]byte(raw))
	if err != nil {
		return fmt.Sprintf("ticket %s: cached value is not a ticket: %s", id, raw)
	}
	row, ok := pg.rows[id]
	switch {
	case !ok:
		return fmt.Sprintf("ticket %s cached but not in Postgres", id)
	case probe.Deleted != pg.deleted[id] || probe.Version != row.Version:
		return fmt.Sprintf("ticket %s: cache v%d deleted=%v, Postgres v%d deleted=%v",
			id, probe.Version, probe.Deleted, row.Version, pg.deleted[id])
	case probe.Deleted:
		return ""
	}
	if want, _ := json.Marshal(row); raw != string(want) {
		return fmt.Sprintf("ticket %s v%d: cache %s, Postgres %s", id, probe.Version, raw, want)
	}
	return ""
}

// expected is the first page of q as the contract defines it: live tickets
// matching the filters, ordered by the sort key then id, limit rows, and
// whether a next page exists.
func (pg pgState) expected(q ticketcache.ListQuery) ([]ticket.Ticket, bool) {
	items := []ticket.Ticket{}
	for id, tk := range pg.rows {
		if !pg.deleted[id] && (q.Status == "" || tk.Status == q.Status) && (q.Assignee == "" || tk.Assignee == q.Assignee) {
			items = append(items, tk)
		}
	}
	slices.SortFunc(items, func(a, b ticket.Ticket) int {
		var c int
		switch q.SortBy {
		case "updated_at":
			c = a.UpdatedAt.Compare(b.UpdatedAt)
		case "priority":
			c = ticket.PriorityRank(a.Priority) - ticket.PriorityRank(b.Priority)
		case "title":
			c = pg.titleRank[a.ID] - pg.titleRank[b.ID]
		default:
			c = a.CreatedAt.Compare(b.CreatedAt)
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if q.Order != "asc" {
			c = -c
		}
		return c
	})
	return items[:min(len(items), q.Limit)], len(items) > q.Limit
}

func comparePage(pg pgState, key string, q ticketcache.ListQuery, raw string) string {
	var got listPage
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		return fmt.Sprintf("page %s: not a list page: %s", key, raw)
	}
	want, hasNext := pg.expected(q)
	gotJSON, _ := json.Marshal(got.Items)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) || (got.NextCursor != nil) != hasNext {
		return fmt.Sprintf("page %s:\n cache    %s (next %v)\n Postgres %s (next %v)",
			key, gotJSON, got.NextCursor != nil, wantJSON, hasNext)
	}
	return ""
}
