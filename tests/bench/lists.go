package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
)

// listScale measures uncached list reads on a small and a large database,
// page 1 and page 100: keyset pagination keeps a deep page as cheap as the
// first whatever the table's size. The databases are kept between runs (they
// take a while to fill) under names that say their size and schema.
func listScale(ctx context.Context, st *stack, sz Size, rep *Report, log io.Writer) error {
	p99 := map[int][2]time.Duration{}
	for _, rows := range []int{sz.ListSmall, sz.ListLarge} {
		db, err := listDatabase(ctx, st.srv, rows, log)
		if err != nil {
			return err
		}
		prefix := fmt.Sprintf("%sl%d:", st.prefix, rows)
		q, err := st.start(ctx, fmt.Sprintf("query on %d tickets", rows), "query",
			st.env("READ_DATABASE_URL="+db, "CACHE_KEY_PREFIX="+prefix), "/readyz")
		if err != nil {
			return err
		}
		gen := ticketcache.Keys{Prefix: prefix}.Gen("", "")
		cursor, err := cursorOfPage(q.url, st.token, 100)
		if err != nil {
			return err
		}
		var pages [2]time.Duration
		for i, path := range []string{"/tickets?limit=50", "/tickets?limit=50&cursor=" + url.QueryEscape(cursor)} {
			lat := make([]time.Duration, 0, sz.ListReads)
			for range sz.ListReads {
				// A new generation: the read misses and goes to Postgres.
				if err := st.rdb.Incr(ctx, gen).Err(); err != nil {
					return err
				}
				start := time.Now()
				h, err := get(q.url+path, bearer(st.token))
				if err != nil {
					return err
				}
				if h.Get("X-Cache") != "MISS" {
					return fmt.Errorf("uncached list read answered X-Cache %q", h.Get("X-Cache"))
				}
				lat = append(lat, time.Since(start))
			}
			pages[i] = percentile(lat, 0.99)
		}
		p99[rows] = pages
		q.stop()
	}
	for i, page := range []string{"page 1", "page 100"} {
		small, large := p99[sz.ListSmall][i], p99[sz.ListLarge][i]
		ratio := float64(large) / float64(small)
		rep.Rows = append(rep.Rows, Row{
			Scenario: fmt.Sprintf("uncached list p99, %s: %s tickets / %s", page, count(sz.ListLarge), count(sz.ListSmall)),
			Project:  fmt.Sprintf("%s / %s", ms(large), ms(small)), Floor: "-", Value: ratio, Target: "<= 1.5",
			Met: ratio <= 1.5})
	}
	return nil
}

func count(n int) string {
	if n >= 1_000_000 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// cursorOfPage follows next_cursor to the cursor that opens page n.
func cursorOfPage(base, token string, n int) (string, error) {
	cursor := ""
	for page := 1; page < n; page++ {
		u := base + "/tickets?limit=50"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header = bearer(token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		var p struct {
			NextCursor *string `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&p)
		res.Body.Close()
		if err != nil || p.NextCursor == nil {
			return "", fmt.Errorf("page %d has no next page (decoding: %w)", page, err)
		}
		cursor = *p.NextCursor
	}
	return cursor, nil
}

// listDatabase returns a database of rows tickets, filling it once.
func listDatabase(ctx context.Context, srv servers, rows int, log io.Writer) (string, error) {
	name := fmt.Sprintf("ticketsys_bench_list_%d_%s", rows, ticketdb.Fingerprint())
	u := srv.dbURL(name)
	if conn, err := pgx.Connect(ctx, u); err == nil {
		var n int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&n)
		_ = conn.Close(ctx)
		if err == nil && n == rows {
			return u, nil
		}
	}
	fmt.Fprintf(log, "bench: filling %s with %d tickets (kept for the next run)\n", name, rows)
	if _, err := srv.createDatabase(ctx, name); err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	base := time.Now().UTC().Add(-time.Duration(rows) * time.Second)
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"tickets"}, []string{"id", "title", "description", "status",
		"priority", "assignee", "reporter", "tags", "version", "created_at", "updated_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == rows {
				return nil, nil
			}
			at := base.Add(time.Duration(i) * time.Second)
			row := []any{uuid.Must(uuid.NewV7()), fmt.Sprintf("Ticket %d", i), "A ticket of typical size.",
				statuses[i%len(statuses)], priorities[i%len(priorities)], people[i%len(people)],
				people[(i+3)%len(people)], []string{"bulk"}, int64(1), at, at}
			i++
			return row, nil
		}))
	if err != nil {
		srv.dropDatabase(name)
		return "", fmt.Errorf("fill %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE tickets"); err != nil {
		return "", err
	}
	return u, nil
}

// percentile of q in [0, 1] (1 is the maximum).
func percentile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
