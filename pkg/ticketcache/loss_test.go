package ticketcache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// cacheOn is a cache on its own prefix of the server at url.
func cacheOn(t *testing.T, url string, opts ...ticketcache.Option) (*ticketcache.Cache, *redis.Client) {
	t.Helper()
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	o.MaxRetries = -1
	rdb := redis.NewClient(o)
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := testinfra.UniqueName(t, "t") + ":"
	testinfra.CleanRedisPrefix(t, rdb, prefix)
	return ticketcache.New(rdb, ticketcache.Keys{Prefix: prefix}, 10*time.Minute, opts...), rdb
}

// Pages cached under a generation are never current again once the counter
// is lost (evicted, flushed) or moved back (a failover to a replica that
// missed bumps), whether a reader or a bump finds it first.
func TestGenerationNeverRepeatsAfterLoss(t *testing.T) {
	t.Parallel()
	c, rdb := newCache(t)
	ctx := t.Context()
	q := ticketcache.ListQuery{Status: "open", SortBy: "created_at", Order: "desc", Limit: 50}
	genKey := c.Keys().Gen(q.Status, q.Assignee)
	change := tk("01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", 1, "x")
	current := func() int64 {
		t.Helper()
		g, _, _, _, err := c.GenerationAndList(ctx, q, 0)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	bump := func() {
		t.Helper()
		if err := c.InvalidateLists(ctx, nil, &change); err != nil {
			t.Fatal(err)
		}
	}
	var used []int64 // every generation a page was cached under
	cachePage := func() {
		t.Helper()
		g := current()
		for _, u := range used {
			if g <= u {
				t.Fatalf("generation %d after %v: a page cached before is current again", g, used)
			}
		}
		if err := c.SetList(ctx, c.Keys().List(q, g), []byte("page")); err != nil {
			t.Fatal(err)
		}
		used = append(used, g)
	}

	cachePage()
	bump()
	bump()
	cachePage()

	rdb.Del(ctx, genKey) // evicted; a reader comes first
	cachePage()

	rdb.Del(ctx, genKey) // flushed; a change comes first
	bump()
	cachePage()

	// A failover to a replica two bumps behind: the counter moves back, and
	// the bumps that follow must not land on the generations in between.
	last := used[len(used)-1]
	bump()
	cachePage()
	bump()
	cachePage()
	rdb.Set(ctx, genKey, last, 0)
	bump()
	cachePage()

	// A counter INCR started (before this scheme, or an operator's INCR)
	// goes over to the clock at its next bump.
	rdb.Set(ctx, genKey, 3, 0)
	bump()
	if g := current(); g < time.Now().Add(-time.Hour).UnixMicro() {
		t.Fatalf("generation %d after a bump of 3, want the clock in microseconds", g)
	}
}

// A restarted or flushed Redis has lost the scripts too: writes load them
// again, and generations bumped after a FLUSHALL are above those before.
func TestWritesAfterRestartAndFlush(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartRedisServer(t)
	c, rdb := cacheOn(t, srv.URL())
	ctx := t.Context()
	id := "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e13"
	q := ticketcache.ListQuery{}
	change := func(v int64) {
		t.Helper()
		next := tk(id, v, "x")
		if stored, err := c.Change(ctx, id, v, nil, &next); err != nil || !stored {
			t.Fatalf("change v%d: stored=%v err=%v", v, stored, err)
		}
	}
	change(1) // a new server has no scripts yet
	before, _ := c.Generation(ctx, q)

	if err := rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	change(2)
	after, _ := c.Generation(ctx, q)
	if after <= before {
		t.Fatalf("generation %d after the flush, %d before", after, before)
	}

	srv.Stop()
	srv.Start(t)
	change(3)
	if e, found, err := c.GetTicket(ctx, id); err != nil || !found || e.Version != 3 {
		t.Fatalf("after restart: %+v %v %v", e, found, err)
	}
}

// The detector takes note first, then reports a deleted canary, a FLUSHALL
// and a restart once each; another instance's detector sees the loss too.
func TestLossDetectorOnANode(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartRedisServer(t)
	_, rdb := cacheOn(t, srv.URL())
	ctx := t.Context()
	keys := ticketcache.Keys{Prefix: "loss:"}
	d := ticketcache.NewLossDetector(rdb, keys)
	other := ticketcache.NewLossDetector(rdb, keys)
	check := func(d *ticketcache.LossDetector, want bool, what string) {
		t.Helper()
		lost, err := d.Check(ctx)
		if err != nil || lost != want {
			t.Fatalf("%s: lost=%v err=%v, want lost=%v", what, lost, err, want)
		}
	}
	check(d, false, "first check")
	check(other, false, "other's first check")
	check(d, false, "nothing happened")
	if ttl := rdb.TTL(ctx, keys.Canary()).Val(); ttl != -1 {
		t.Fatalf("canary TTL %v, want none", ttl)
	}

	rdb.Del(ctx, keys.Canary())
	check(d, true, "canary deleted")
	check(d, false, "after the deletion was reported")
	check(other, true, "canary replaced by the other instance")

	rdb.FlushAll(ctx)
	check(d, true, "FLUSHALL")
	check(other, true, "FLUSHALL, seen by the other")
	check(d, false, "after FLUSHALL")

	srv.Stop() // SHUTDOWN SAVE: the canary comes back, the process is new
	srv.Start(t)
	check(d, true, "restart")
	check(d, false, "after the restart")
}

// On a Cluster each primary has its canary: the failover of one is seen.
func TestLossDetectorOnCluster(t *testing.T) {
	t.Parallel()
	cl := testinfra.StartRedisCluster(t, 3, 1)
	cc := cl.Client(t)
	ctx := t.Context()
	d := ticketcache.NewLossDetector(cc, ticketcache.Keys{Prefix: "loss:"})
	if lost, err := d.Check(ctx); err != nil || lost {
		t.Fatalf("first check: %v %v", lost, err)
	}
	if lost, err := d.Check(ctx); err != nil || lost {
		t.Fatalf("second check: %v %v", lost, err)
	}
	var (
		mu       sync.Mutex
		canaries []string
	)
	_ = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		var ks []string
		iter := m.Scan(ctx, 0, "loss:tickets:canary:*", 100).Iterator()
		for iter.Next(ctx) {
			ks = append(ks, iter.Val())
		}
		mu.Lock()
		defer mu.Unlock()
		canaries = append(canaries, ks...)
		return nil
	})
	if len(canaries) != 3 {
		t.Fatalf("canaries %v, want one per primary", canaries)
	}

	victim, err := cl.MasterOf(ctx, canaries[0])
	if err != nil {
		t.Fatal(err)
	}
	cl.Kill(victim)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := cl.WaitFailover(wctx, canaries[0], victim); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 30*time.Second, func() bool {
		lost, err := d.Check(ctx)
		return err == nil && lost
	}, "the failover of a primary was never reported")
	testinfra.Eventually(t, 30*time.Second, func() bool {
		lost, err := d.Check(ctx)
		return err == nil && !lost
	}, "the detector kept reporting a loss")
}

// Without the replicas it asks for, a write fails with ErrNotReplicated
// (the primary has it; the caller retries it).
func TestWaitReplicasWithoutReplica(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartRedisServer(t)
	c, _ := cacheOn(t, srv.URL(), ticketcache.WaitReplicas(1, 50*time.Millisecond))
	ctx := t.Context()
	id := "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e14"
	next := tk(id, 1, "x")
	if _, err := c.Change(ctx, id, 1, nil, &next); !errors.Is(err, ticketcache.ErrNotReplicated) {
		t.Fatalf("change without a replica: %v, want ErrNotReplicated", err)
	}
	if err := c.InvalidateLists(ctx, nil, &next); !errors.Is(err, ticketcache.ErrNotReplicated) {
		t.Fatalf("bump without a replica: %v, want ErrNotReplicated", err)
	}
	if err := c.DeleteTicket(ctx, id); !errors.Is(err, ticketcache.ErrNotReplicated) {
		t.Fatalf("delete without a replica: %v, want ErrNotReplicated", err)
	}
}

// With a replica, a write returns once the replica has it.
func TestWaitReplicasOnReplica(t *testing.T) {
	t.Parallel()
	primary, replica := testinfra.StartRedisServer(t), testinfra.StartRedisServer(t)
	ctx := t.Context()
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	t.Cleanup(func() { _ = rc.Close() })
	host, port, _ := strings.Cut(primary.Addr(), ":")
	if err := rc.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 20*time.Second, func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	}, "the replica never synced")

	c, _ := cacheOn(t, primary.URL(), ticketcache.WaitReplicas(1, 2*time.Second))
	id := "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e15"
	next := tk(id, 1, "x")
	next.Assignee = "alice"
	if stored, err := c.Change(ctx, id, 1, nil, &next); err != nil || !stored {
		t.Fatalf("change: %v %v", stored, err)
	}
	// WAIT returned: the replica has every key, no polling needed.
	keys := append([]string{c.Keys().Ticket(id)}, c.Keys().AffectedGens(nil, &next)...)
	if n := rc.Exists(ctx, keys...).Val(); n != int64(len(keys)) {
		t.Fatalf("the replica has %d of %d keys when the write returned", n, len(keys))
	}
}

// On a Cluster the writes of one change go to several primaries; each is
// waited on by its own replica.
func TestWaitReplicasOnCluster(t *testing.T) {
	t.Parallel()
	cl := testinfra.StartRedisCluster(t, 3, 1)
	cc := cl.Client(t)
	ctx := t.Context()
	prev := tk("01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e16", 1, "x")
	prev.Assignee = "alice"
	next := prev
	next.Version, next.Status, next.Assignee = 2, ticket.StatusClosed, "bob"

	c := ticketcache.New(cc, ticketcache.Keys{Prefix: "w:"}, time.Minute, ticketcache.WaitReplicas(1, 2*time.Second))
	nodes := map[int]bool{}
	for _, k := range append([]string{c.Keys().Ticket(prev.ID)}, c.Keys().AffectedGens(&prev, &next)...) {
		i, err := cl.MasterOf(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = true
	}
	if len(nodes) < 2 {
		t.Fatalf("the change's keys are all on one primary; the test wants several")
	}
	if stored, err := c.Change(ctx, prev.ID, 2, &prev, &next); err != nil || !stored {
		t.Fatalf("change: %v %v", stored, err)
	}
	if err := c.InvalidateLists(ctx, &prev, &next); err != nil {
		t.Fatal(err)
	}
	two := ticketcache.New(cc, ticketcache.Keys{Prefix: "w:"}, time.Minute, ticketcache.WaitReplicas(2, 100*time.Millisecond))
	if err := two.InvalidateLists(ctx, &prev, &next); !errors.Is(err, ticketcache.ErrNotReplicated) {
		t.Fatalf("two replicas asked of one: %v, want ErrNotReplicated", err)
	}
}
