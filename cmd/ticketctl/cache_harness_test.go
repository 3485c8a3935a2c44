package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// cacheFixture is a test's own database and Redis key prefix, filled the way the services
// fill them: rows by SQL, cache entries through pkg/ticketcache.
type cacheFixture struct {
	t        *testing.T
	dbURL    string
	redisURL string
	db       *pgx.Conn
	rdb      *redis.Client
	cache    *ticketcache.Cache
	prefix   string
	clock    time.Time
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	f := &cacheFixture{t: t, dbURL: ticketsdb.New(t), redisURL: testinfra.RedisURL(t),
		prefix: testinfra.UniqueName(t, "ctl") + ":", clock: time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)}
	var err error
	f.db, err = pgx.Connect(context.Background(), f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.db.Close(context.Background()) })
	opts, err := redis.ParseURL(f.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	f.rdb = redis.NewClient(opts)
	t.Cleanup(func() { _ = f.rdb.Close() })
	testinfra.CleanRedisPrefix(t, f.rdb, f.prefix)
	f.cache = ticketcache.New(f.rdb, ticketcache.Keys{Prefix: f.prefix}, 10*time.Minute)
	return f
}

func (f *cacheFixture) env() map[string]string {
	return map[string]string{"DATABASE_URL": f.dbURL, "REDIS_URL": f.redisURL}
}

// check runs cache check on the fixture's prefix, reporting at once unless args say otherwise.
func (f *cacheFixture) check(args ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	return runCLI(f.t, f.env(), append([]string{"cache", "check", "--prefix", f.prefix, "--grace", "0"}, args...)...)
}

// insert stores a new ticket (version 1), each a millisecond after the previous one.
func (f *cacheFixture) insert(title, status, priority, assignee string) ticket.Ticket {
	f.t.Helper()
	f.clock = f.clock.Add(time.Millisecond)
	tk := ticket.Ticket{ID: newID(), Title: title, Status: status, Priority: priority, Assignee: assignee,
		Reporter: "bob", Tags: []string{"hardware"}, Version: 1, CreatedAt: f.clock, UpdatedAt: f.clock}
	_, err := f.db.Exec(context.Background(), `INSERT INTO tickets (id, title, description, status, priority,
		assignee, reporter, tags, version, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)`,
		tk.ID, tk.Title, tk.Description, tk.Status, tk.Priority, tk.Assignee, tk.Reporter, tk.Tags,
		tk.Version, tk.CreatedAt, tk.UpdatedAt)
	if err != nil {
		f.t.Fatalf("insert ticket %s: %v", tk.ID, err)
	}
	return tk
}

// retitle is an update: new title, next version.
func (f *cacheFixture) retitle(tk ticket.Ticket, title string) ticket.Ticket {
	f.t.Helper()
	f.clock = f.clock.Add(time.Millisecond)
	tk.Title, tk.Version, tk.UpdatedAt = title, tk.Version+1, f.clock
	_, err := f.db.Exec(context.Background(), `UPDATE tickets SET title = $2, version = $3, updated_at = $4 WHERE id = $1`,
		tk.ID, tk.Title, tk.Version, tk.UpdatedAt)
	if err != nil {
		f.t.Fatalf("update ticket %s: %v", tk.ID, err)
	}
	return tk
}

// remove deletes as the command service does: the row stays with the next version.
func (f *cacheFixture) remove(tk ticket.Ticket) int64 {
	f.t.Helper()
	_, err := f.db.Exec(context.Background(), `UPDATE tickets SET deleted_at = now(), version = version + 1 WHERE id = $1`, tk.ID)
	if err != nil {
		f.t.Fatalf("delete ticket %s: %v", tk.ID, err)
	}
	return tk.Version + 1
}

func (f *cacheFixture) cacheTicket(tk ticket.Ticket) {
	f.t.Helper()
	stored, err := f.cache.SetTicket(context.Background(), tk)
	if err != nil || !stored {
		f.t.Fatalf("SetTicket(%s v%d) = %v, %v, want true, nil", tk.ID, tk.Version, stored, err)
	}
}

// cachePage stores a list page at the filters' current generation and returns its key.
func (f *cacheFixture) cachePage(q ticketcache.ListQuery, next *string, items ...ticket.Ticket) string {
	f.t.Helper()
	gen, err := f.cache.Generation(context.Background(), q)
	if err != nil {
		f.t.Fatalf("Generation(%+v): %v", q, err)
	}
	key := f.cache.Keys().List(q, gen)
	if items == nil {
		items = []ticket.Ticket{}
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(struct {
		Items      []ticket.Ticket `json:"items"`
		NextCursor *string         `json:"next_cursor"`
	}{items, next}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.cache.SetList(context.Background(), key, b.Bytes()); err != nil {
		f.t.Fatalf("SetList(%s): %v", key, err)
	}
	return key
}

func (f *cacheFixture) bumpGen(status, assignee string) {
	f.t.Helper()
	if err := f.rdb.Incr(context.Background(), f.cache.Keys().Gen(status, assignee)).Err(); err != nil {
		f.t.Fatalf("INCR %s: %v", f.cache.Keys().Gen(status, assignee), err)
	}
}

func ptr(s string) *string { return &s }
