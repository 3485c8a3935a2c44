package testinfra

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// cleanRedisTimeout bounds one test's key cleanup: a Redis that does not answer should not hold up the
// whole test binary.
const cleanRedisTimeout = 10 * time.Second

// CleanRedisPrefix deletes every key that starts with prefix when the test ends. Tests share one Redis
// server (RedisURL), so each works under a prefix of its own (UniqueName) and takes its keys away
// afterwards, or the shared server fills up run after run. The keys are found with SCAN, never KEYS,
// which would block a server that other tests are using; on a ClusterClient every master is scanned, and
// on a Ring every shard. The prefix is matched literally, glob characters included, so a test can only
// delete its own keys; an empty prefix fails the test at once instead of emptying the server.
//
// The cleanup uses rdb, so register rdb's Close before calling this (cleanups run last-in first-out). A
// cleanup that cannot reach Redis (the test stopped its own server for good) is logged, not failed: the
// keys go with that server, or stay under a name no other test uses.
func CleanRedisPrefix(t testing.TB, rdb redis.UniversalClient, prefix string) {
	t.Helper()
	if prefix == "" {
		t.Fatal("testinfra.CleanRedisPrefix: empty prefix; it would delete every key on the server")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanRedisTimeout)
		defer cancel()
		if err := deleteRedisPrefix(ctx, rdb, prefix); err != nil {
			t.Logf("testinfra.CleanRedisPrefix: keys under %q may be left: %v", prefix, err)
		}
	})
}

func deleteRedisPrefix(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	pattern := escapeGlob(prefix) + "*"
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		// SCAN on a cluster client goes to one node only; each master holds its own part of the keys.
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return deleteMatching(ctx, node, pattern)
		})
	case *redis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, shard *redis.Client) error {
			return deleteMatching(ctx, shard, pattern)
		})
	default:
		return deleteMatching(ctx, rdb, pattern)
	}
}

// deleteMatching deletes the keys one node holds, a SCAN page at a time. The keys are deleted one DEL
// each (pipelined): on a cluster node the keys of one page lie in different hash slots, and a DEL of
// several would fail with CROSSSLOT.
func deleteMatching(ctx context.Context, c redis.Cmdable, pattern string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			pipe := c.Pipeline()
			for _, k := range keys {
				pipe.Del(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// escapeGlob quotes the characters SCAN's MATCH treats as a pattern, so that the prefix matches only
// itself.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
