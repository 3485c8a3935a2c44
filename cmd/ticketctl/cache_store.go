package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
)

// scanKeys returns every key matching pattern, by SCAN (never KEYS: the audit must not block
// the Redis that serves reads). On Redis Cluster every master is scanned.
func scanKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			seen[it.Val()] = true // SCAN may return a key twice
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", pattern, err)
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// getAll reads keys in one pipeline (split by slot on Cluster, where MGET across slots fails).
// A key that expired since the scan is absent from the result.
func getAll(ctx context.Context, rdb redis.UniversalClient, keys []string) (map[string][]byte, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read cache: %w", err)
	}
	out := make(map[string][]byte, len(keys))
	for i, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", keys[i], err)
		}
		out[keys[i]] = b
	}
	return out, nil
}

// globEscape quotes SCAN's pattern characters, so a key prefix is matched literally.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// row is a tickets row as the API shows it, and whether it is a deletion tombstone.
type row struct {
	t       ticket.Ticket
	deleted bool
}

// collectRows reads rows of ticketdb.Columns, followed by "deleted_at IS NOT NULL" when
// withDeleted (page queries return live rows only).
func collectRows(rows pgx.Rows, withDeleted bool) ([]row, error) {
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var extra []any
		if withDeleted {
			extra = append(extra, &r.deleted)
		}
		if err := rows.Scan(ticketdb.ScanFields(&r.t, extra...)...); err != nil {
			return nil, err
		}
		ticketdb.Normalize(&r.t)
		out = append(out, r)
	}
	return out, rows.Err()
}

// readOnly runs fn in a read-only transaction: the audit can never change the database, also
// when DATABASE_URL carries a writer's credentials.
func readOnly(ctx context.Context, db *pgx.Conn, timeout time.Duration, fn func(context.Context, pgx.Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return pgx.BeginTxFunc(ctx, db, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(ctx, tx)
	})
}

// loadTickets reads the rows (live or deleted) of ids, keyed by id.
func loadTickets(ctx context.Context, tx pgx.Tx, ids []string) (map[string]row, error) {
	rows, err := tx.Query(ctx, `SELECT `+ticketdb.Columns+`, deleted_at IS NOT NULL FROM tickets
		WHERE id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	list, err := collectRows(rows, true)
	if err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	out := make(map[string]row, len(list))
	for _, r := range list {
		out[r.t.ID] = r
	}
	return out, nil
}
