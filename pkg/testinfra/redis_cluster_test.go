package testinfra

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisClusterFailoverAndRejoin(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartRedisCluster(t, 3, 1)
	t.Logf("cluster up in %v", time.Since(start))
	opts, err := redis.ParseClusterURL(c.URL())
	if err != nil {
		t.Fatalf("ParseClusterURL(%q): %v", c.URL(), err)
	}
	if addrs := c.Addrs(); len(addrs) != 6 || !slices.Equal(opts.Addrs, addrs) {
		t.Fatalf("URL %q gives addresses %q, want %q (6)", c.URL(), opts.Addrs, addrs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()

	rdb := c.Client(t)
	key := UniqueName(t, "chaos")
	if err := rdb.Set(ctx, key, "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	master, err := c.MasterOf(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if of, err := c.ReplicaOf(ctx, master); err != nil || of != -1 {
		t.Fatalf("ReplicaOf(master %d) = %d, %v; want -1", master, of, err)
	}
	replica := -1
	for i := range c.Addrs() {
		if of, err := c.ReplicaOf(ctx, i); err != nil {
			t.Fatal(err)
		} else if of == master {
			replica = i
		}
	}
	if replica < 0 {
		t.Fatalf("master %d has no replica", master)
	}

	killed := time.Now()
	c.Kill(master)
	if c.Running(master) {
		t.Fatalf("node %d running after Kill", master)
	}
	next, err := c.WaitFailover(ctx, key, master)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("master %d killed, its replica %d took over after %v", master, next, time.Since(killed))
	if next != replica {
		t.Errorf("node %d took over, want %d, the replica of the killed master", next, replica)
	}

	// go-redis (v9.23) does not reload its slot map when a master refuses connections, only on a
	// MOVED reply or every ClusterStateReloadInterval (60 s by default, and the services' default):
	// without ReloadState the client would keep sending the key to the dead node for up to a minute.
	var got string
	if err := retryUntil(ctx, 0, func() error {
		if got, err = rdb.Get(ctx, key).Result(); err != nil {
			rdb.ReloadState(ctx)
		}
		return err
	}); err != nil {
		t.Fatalf("GET after the failover: %v", err)
	}
	if got != "before" {
		t.Errorf("GET after the failover = %q, want %q", got, "before")
	}
	if err := retryUntil(ctx, 0, func() error { return rdb.Set(ctx, key, "after", 0).Err() }); err != nil {
		t.Fatalf("SET after the failover: %v", err)
	}

	restart := time.Now()
	c.Start(t, master)
	t.Logf("node %d back in %v", master, time.Since(restart))
	c.Start(t, master) // idempotent
	if of, err := c.ReplicaOf(ctx, master); err != nil || of != next {
		t.Fatalf("the old master %d: ReplicaOf = %d, %v; want a replica of %d", master, of, err, next)
	}
	if m, err := c.MasterOf(ctx, key); err != nil || m != next {
		t.Fatalf("MasterOf after the restart = %d, %v; want %d", m, err, next)
	}
	if got, err := rdb.Get(ctx, key).Result(); err != nil || got != "after" {
		t.Errorf("GET after the restart = %q, %v; want %q", got, err, "after")
	}
	// The rejoined node has the data again, from its new master.
	if err := c.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	node := redis.NewClient(&redis.Options{Addr: c.Addrs()[master]})
	defer node.Close()
	conn := node.Conn()
	defer conn.Close()
	if err := conn.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := conn.Get(ctx, key).Result(); err != nil || got != "after" {
		t.Errorf("GET on the rejoined replica = %q, %v; want %q", got, err, "after")
	}
}
