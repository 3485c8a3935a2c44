package ticketcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// Cache reads and writes the scheme on any go-redis client (single node,
// Cluster, TLS).
type Cache struct {
	rdb          redis.UniversalClient
	keys         Keys
	ttl          time.Duration
	waitReplicas int
	waitTimeout  time.Duration
}

// Option tunes a Cache.
type Option func(*Cache)

// WaitReplicas makes every write return only once n replicas of the node
// that took it have it too (Redis WAIT, at most timeout), and fail with
// ErrNotReplicated otherwise. Redis replicates asynchronously: a primary
// that fails over before its replica got a write loses it, so the writer
// must still hold what it wrote (an unacknowledged event) to write it again.
// 0 (the default) never waits.
func WaitReplicas(n int, timeout time.Duration) Option {
	return func(c *Cache) { c.waitReplicas, c.waitTimeout = n, timeout }
}

// ErrNotReplicated is a write that the primary took but that fewer replicas
// than WaitReplicas asked for acknowledged in time.
var ErrNotReplicated = errors.New("write not acknowledged by enough replicas")

// New returns a cache whose entries expire after ttl.
func New(rdb redis.UniversalClient, keys Keys, ttl time.Duration, opts ...Option) *Cache {
	c := &Cache{rdb: rdb, keys: keys, ttl: ttl}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Keys returns the key scheme in use.
func (c *Cache) Keys() Keys { return c.keys }

// TTL returns the entries' time to live.
func (c *Cache) TTL() time.Duration { return c.ttl }

// Entry is a cached ticket: its API JSON, or a tombstone for a deleted one.
type Entry struct {
	JSON    []byte // the API JSON; nil for a tombstone
	Version int64
	Deleted bool
}

// tombstone is what ticket:{id} holds after a delete: it answers 404 from
// the cache and fences off any older version a slow reader might write.
type tombstone struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
	Deleted bool   `json:"deleted"`
}

// setIfNewer writes KEYS[1] unless it holds a version at least as new.
// The version is read from the stored JSON so the value stays the plain
// API JSON that operators read with GET.
var setIfNewer = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' then
    local v = tonumber(obj['version'])
    if v and v >= tonumber(ARGV[1]) then
      return 0
    end
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// bumpGen moves a list generation on: one past its value, and at least to
// the Redis server's clock in microseconds. An INCR alone starts again from
// 1 once the counter is lost (evicted, flushed, or a failover to a replica
// that missed the last bumps), and the pages cached under those numbers
// before, still within their TTL, would be current again. Every value is at
// most the clock when it was written (bumps come far less often than once a
// microsecond), so a bump after any loss lands above every generation used
// before: a generation never repeats.
var bumpGen = redis.NewScript(`
local t = redis.call('TIME')
local v = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur and cur >= v then
  v = cur + 1
end
redis.call('SET', KEYS[1], string.format('%.0f', v))
return v
`)

// seedGen returns a list generation, first setting a missing one to the
// server's clock in microseconds, for the reason bumpGen gives: a reader
// that took a missing counter as 0 would cache under g0, which the next
// loss of the counter would make current again.
var seedGen = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  return v
end
local t = redis.call('TIME')
v = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('SET', KEYS[1], v)
return v
`)

// scripts are every script write may run, loaded again when Redis lost them.
var scripts = []*redis.Script{setIfNewer, bumpGen}

// GetTicket reads a ticket's entry; found is false on a miss.
func (c *Cache) GetTicket(ctx context.Context, id string) (e Entry, found bool, err error) {
	b, err := c.rdb.Get(ctx, c.keys.Ticket(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("get ticket: %w", err)
	}
	e, err = ParseEntry(b)
	if err != nil {
		// Not ours or corrupted: a miss, which the next fenced write repairs.
		return e, false, nil
	}
	return e, true, nil
}

// ParseEntry reads the value of a ticket:{id} key: the API JSON, or a
// tombstone. Operators' tools read entries with it too.
func ParseEntry(b []byte) (Entry, error) {
	if e, ok := scanEntry(b); ok {
		return e, nil
	}
	var probe tombstone
	if err := json.Unmarshal(b, &probe); err != nil {
		return Entry{}, fmt.Errorf("not a cached ticket: %w", err)
	}
	if probe.Deleted {
		return Entry{Version: probe.Version, Deleted: true}, nil
	}
	return Entry{JSON: b, Version: probe.Version}, nil
}

// SetTicket stores t unless a version at least as new is cached; stored
// reports whether it wrote.
func (c *Cache) SetTicket(ctx context.Context, t ticket.Ticket) (stored bool, err error) {
	b, err := json.Marshal(t)
	if err != nil {
		return false, fmt.Errorf("encode ticket: %w", err)
	}
	return c.setFenced(ctx, t.ID, t.Version, b)
}

// SetTombstone marks the ticket deleted at version, with the same fence.
func (c *Cache) SetTombstone(ctx context.Context, id string, version int64) (bool, error) {
	b, err := json.Marshal(tombstone{ID: id, Version: version, Deleted: true})
	if err != nil {
		return false, err
	}
	return c.setFenced(ctx, id, version, b)
}

func (c *Cache) setFenced(ctx context.Context, id string, version int64, payload []byte) (bool, error) {
	cmds, err := c.write(ctx, []op{c.fenced(id, version, payload)})
	if err != nil {
		return false, fmt.Errorf("set ticket: %w", err)
	}
	return storedBy(cmds[0])
}

// fenced is the version-fenced write of a ticket's entry.
func (c *Cache) fenced(id string, version int64, payload []byte) op {
	return op{key: c.keys.Ticket(id), script: setIfNewer, args: []any{version, payload, c.ttl.Milliseconds()}}
}

// storedBy reads setIfNewer's answer.
func storedBy(cmd redis.Cmder) (bool, error) {
	n, err := cmd.(*redis.Cmd).Int()
	if err != nil {
		return false, fmt.Errorf("set ticket: %w", err)
	}
	return n == 1, nil
}

// Change records a change in one round trip: the ticket's new state (next,
// or a tombstone at version when next is nil) through the version fence,
// and a bump of every list generation the change from prev to next
// touches. stored is false when the fence refused an older version; the
// lists are bumped regardless, which only ever makes a page be recomputed.
func (c *Cache) Change(ctx context.Context, id string, version int64, prev, next *ticket.Ticket) (stored bool, err error) {
	var payload []byte
	if next != nil {
		payload, err = json.Marshal(next)
	} else {
		payload, err = json.Marshal(tombstone{ID: id, Version: version, Deleted: true})
	}
	if err != nil {
		return false, fmt.Errorf("encode ticket: %w", err)
	}
	ops := append([]op{c.fenced(id, version, payload)}, c.bumps(prev, next)...)
	cmds, err := c.write(ctx, ops)
	if err != nil {
		return false, fmt.Errorf("record change: %w", err)
	}
	return storedBy(cmds[0])
}

// DeleteTicket drops a ticket's entry: always safe, the next read refills it.
func (c *Cache) DeleteTicket(ctx context.Context, id string) error {
	if _, err := c.write(ctx, []op{{key: c.keys.Ticket(id)}}); err != nil {
		return fmt.Errorf("delete ticket: %w", err)
	}
	return nil
}

// Generation reads the generation of the lists with q's filters (0 when the
// counter is missing). It only reads: the query service reads generations
// with GenerationAndList, which never answers 0.
func (c *Cache) Generation(ctx context.Context, q ListQuery) (int64, error) {
	g, _, err := parseGen(c.rdb.Get(ctx, c.keys.Gen(q.Status, q.Assignee)))
	return g, err
}

// GenerationAndList reads the generation of q's filters and the page of q
// at that generation. guess is the generation the caller saw last time:
// both are asked for in one round trip, and only when the generation has
// moved on since is the page asked for again. It returns the generation
// and key the page belongs to; found is false on a miss. A missing counter
// is set first (seedGen), so the page is never cached under a generation
// that can come back.
func (c *Cache) GenerationAndList(ctx context.Context, q ListQuery, guess int64) (gen int64, key string, page []byte, found bool, err error) {
	genKey := c.keys.Gen(q.Status, q.Assignee)
	genCmd := redis.NewStringCmd(ctx, "get", genKey)
	key = c.keys.List(q, guess)
	pageCmd := redis.NewStringCmd(ctx, "get", key)
	if _, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		_ = p.Process(ctx, genCmd)
		_ = p.Process(ctx, pageCmd)
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return 0, "", nil, false, fmt.Errorf("get generation and list: %w", err)
	}
	gen, missing, err := parseGen(genCmd)
	if err != nil {
		return 0, "", nil, false, err
	}
	if missing {
		if gen, err = c.seedGeneration(ctx, genKey); err != nil {
			return 0, "", nil, false, err
		}
	}
	if gen != guess {
		key = c.keys.List(q, gen)
		page, found, err = c.GetList(ctx, key)
		return gen, key, page, found, err
	}
	page, err = pageCmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return gen, key, nil, false, nil
	}
	if err != nil {
		return 0, "", nil, false, fmt.Errorf("get list: %w", err)
	}
	return gen, key, page, true, nil
}

// seedGeneration reads the generation at key, setting it first if missing.
func (c *Cache) seedGeneration(ctx context.Context, key string) (int64, error) {
	s, err := seedGen.Run(ctx, c.rdb, []string{key}).Text()
	if err != nil {
		return 0, fmt.Errorf("seed generation: %w", err)
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("generation %q: %w", s, err)
	}
	return g, nil
}

// parseGen reads a generation; missing is true (and g 0) when there is none.
func parseGen(cmd *redis.StringCmd) (g int64, missing bool, err error) {
	s, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("get generation: %w", err)
	}
	g, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("generation %q: %w", s, err)
	}
	return g, false, nil
}

// GetList reads a cached list page by its key.
func (c *Cache) GetList(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get list: %w", err)
	}
	return b, true, nil
}

// SetList caches a list page.
func (c *Cache) SetList(ctx context.Context, key string, payload []byte) error {
	if err := c.rdb.Set(ctx, key, payload, c.ttl).Err(); err != nil {
		return fmt.Errorf("set list: %w", err)
	}
	return nil
}

// InvalidateLists bumps the generation of every list the change from prev to
// next can touch, in one round trip per node. Pages of older generations are
// never read again and expire by their TTL.
func (c *Cache) InvalidateLists(ctx context.Context, prev, next *ticket.Ticket) error {
	ops := c.bumps(prev, next)
	if len(ops) == 0 {
		return nil
	}
	if _, err := c.write(ctx, ops); err != nil {
		return fmt.Errorf("bump list generations: %w", err)
	}
	return nil
}

// bumps are the generation bumps of a change from prev to next.
func (c *Cache) bumps(prev, next *ticket.Ticket) []op {
	keys := c.keys.AffectedGens(prev, next)
	ops := make([]op, len(keys))
	for i, k := range keys {
		ops[i] = op{key: k, script: bumpGen}
	}
	return ops
}

var (
	versionKey = []byte(`"version":`)
	deletedKey = []byte(`"deleted":true`)
)

// scanEntry is ParseEntry's fast path for what this package writes, on every
// cache hit: the version without decoding the whole ticket. A key in this
// JSON is always a quote, the name, a quote and a colon; inside a string
// every quote is escaped, so "version": cannot occur there. Anything unusual
// (no object, no or a malformed version) goes to the decoder instead.
func scanEntry(b []byte) (Entry, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return Entry{}, false
	}
	i := bytes.Index(b, versionKey)
	if i < 0 {
		return Entry{}, false
	}
	j := i + len(versionKey)
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	if k == j || k-j > 18 || (b[k] != ',' && b[k] != '}') {
		return Entry{}, false
	}
	v, err := strconv.ParseInt(string(b[j:k]), 10, 64)
	if err != nil {
		return Entry{}, false
	}
	if bytes.Contains(b, deletedKey) {
		return Entry{Version: v, Deleted: true}, true
	}
	return Entry{JSON: b, Version: v}, true
}
