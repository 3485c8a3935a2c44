package testinfra

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestCleanRedisPrefixDeletesOnlyItsPrefix(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	base := UniqueName(t, "clean")
	// The prefix holds glob characters: matched as a pattern, "[x]*" would also take base+":x...".
	prefix := base + ":[x]*"
	var mine []string
	for i := range 2500 { // more than one SCAN page
		mine = append(mine, fmt.Sprintf("%s%d", prefix, i))
	}
	others := []string{
		base + ":x1",       // what the unescaped pattern would match
		base + ":[x]",      // the prefix minus its last character
		base + ";[x]*1",    // a neighbouring prefix
		base + "_other:k1", // another test's prefix that starts the same way
	}
	pipe := rdb.Pipeline()
	for _, k := range append(append([]string{}, mine...), others...) {
		pipe.Set(ctx, k, "v", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), others...) })

	t.Run("test", func(t *testing.T) { CleanRedisPrefix(t, rdb, prefix) })

	left := scanAll(t, rdb, base+"*")
	sort.Strings(others)
	if fmt.Sprint(left) != fmt.Sprint(others) {
		t.Errorf("%d keys under %s after the cleanup, want only the other prefixes' %q; first ones: %q",
			len(left), base, others, left[:min(len(left), 8)])
		rdb.Del(context.Background(), mine...) // a broken cleanup must not leave them on the shared server
	}
}

func TestCleanRedisPrefixRefusesEmptyPrefix(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() { // Fatal ends the goroutine it is called on
		defer close(done)
		CleanRedisPrefix(rec, rdb, "")
	}()
	<-done
	if !rec.fatal {
		t.Error("an empty prefix was accepted")
	}
	if len(rec.cleanups) != 0 {
		t.Errorf("%d cleanups registered for an empty prefix, want 0", len(rec.cleanups))
	}
}

func scanAll(t *testing.T, rdb *redis.Client, pattern string) []string {
	t.Helper()
	var keys []string
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}
