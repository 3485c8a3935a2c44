package ticketcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

// canary returns KEYS[1], first setting it to ARGV[1] if it is missing,
// and the run_id of the server that holds it: both from the same node.
var canary = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v)
end
return {v, string.match(redis.call('INFO', 'server'), 'run_id:(%w+)') or ''}
`)

// LossDetector tells when Redis may have lost writes since it last looked,
// for each shard (the single node, or every shard of a Cluster):
//
//   - its canary key (tickets:canary, on Cluster one per shard with a hash
//     tag that puts it in the shard's slots) is gone or holds another
//     value: a FLUSHALL, a node that came back empty, an eviction under
//     allkeys-lru, or another instance that saw the loss first and set a
//     new one;
//   - the node serving the shard has another run_id: a restart or a
//     failover, either of which can lose the writes a replica had not
//     received yet.
//
// The canary has no TTL, so volatile-lru, the eviction policy the
// deployment asks for, never takes it; under allkeys-lru it is read every
// check, the last key LRU would pick. A false alarm costs a replay, which
// is harmless. Not goroutine-safe: one caller checks.
type LossDetector struct {
	rdb  redis.UniversalClient
	key  string
	seen map[string]shardMark // by canary key
	tags map[[2]int]string    // hash tag per slot range
}

type shardMark struct{ value, runID string }

// NewLossDetector returns a detector whose first Check only takes note.
func NewLossDetector(rdb redis.UniversalClient, keys Keys) *LossDetector {
	return &LossDetector{rdb: rdb, key: keys.Canary(), tags: map[[2]int]string{}}
}

// Check reports whether a shard lost data since the previous Check. The
// first one, and the first for a shard or slot range new to it (scaling,
// resharding), has nothing to compare with and reports false. An error leaves what it knew.
func (d *LossDetector) Check(ctx context.Context) (lost bool, err error) {
	keys, err := d.keys(ctx)
	if err != nil {
		return false, err
	}
	value := newCanaryValue()
	now := make(map[string]shardMark, len(keys))
	for _, key := range keys {
		r, err := canary.Run(ctx, d.rdb, []string{key}, value).StringSlice()
		if err != nil {
			redisconn.ReloadIfMoved(ctx, d.rdb, err)
			return false, fmt.Errorf("canary %s: %w", key, err)
		}
		if len(r) != 2 {
			return false, fmt.Errorf("canary %s: answer %q", key, r)
		}
		m := shardMark{value: r[0], runID: r[1]}
		if old, ok := d.seen[key]; ok && old != m {
			lost = true
		}
		now[key] = m
	}
	d.seen = now
	return lost, nil
}

// keys are the canaries: on Cluster one per shard, in its first slot range
// (CLUSTER SHARDS, Redis 7).
func (d *LossDetector) keys(ctx context.Context) ([]string, error) {
	cc, ok := d.rdb.(*redis.ClusterClient)
	if !ok {
		return []string{d.key}, nil
	}
	shards, err := cc.ClusterShards(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster shards: %w", err)
	}
	out := make([]string, 0, len(shards))
	for _, s := range shards {
		if len(s.Slots) == 0 {
			continue // a shard without slots holds no cache
		}
		r := [2]int{int(s.Slots[0].Start), int(s.Slots[0].End)}
		tag, ok := d.tags[r]
		if !ok {
			tag = tagInSlots(r[0], r[1])
			d.tags[r] = tag
		}
		out = append(out, d.key+":{"+tag+"}")
	}
	return out, nil
}

func newCanaryValue() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// tagInSlots returns the shortest decimal hash tag whose slot is in
// [start, end]: a key holding {tag} lives in that range.
func tagInSlots(start, end int) string {
	for i := 0; ; i++ {
		tag := strconv.Itoa(i)
		if s := int(keySlot(tag)); s >= start && s <= end {
			return tag
		}
	}
}

// keySlot is Redis Cluster's hash slot of a key without braces (or of a
// hash tag): CRC16 (XMODEM) modulo 16384.
func keySlot(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc % 16384
}
