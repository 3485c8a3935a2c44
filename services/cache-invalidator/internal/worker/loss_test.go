package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/config"
)

// A FLUSHALL takes the version fence with ticket:{id}: a query service fill
// that read v1 from Postgres before v2 committed, landing after the flush,
// writes v1 and would keep it for the TTL. The worker sees the loss and
// applies the recent events again, v2 over the stale fill, and its write
// then fences off a fill that lands later still.
func TestReplayAfterFlushOverwritesAStaleFill(t *testing.T) {
	t.Parallel()
	rs := testinfra.StartRedisServer(t)
	h := newHarnessOn(t, testinfra.NATSURL(t), rs.URL(), true)
	ctx := context.Background()
	cfg := h.config()
	loss := &pausedLoss{d: ticketcache.NewLossDetector(h.rdb, h.cache.Keys())}
	cfg.Loss = loss
	cfg.LossInterval = 50 * time.Millisecond
	cfg.ReplayWindow = 10 * time.Second
	r := h.start(cfg)

	v1 := newTicket(t, "v1")
	h.publish(created(t, v1))
	_, ev := updated(t, v1, func(x *ticket.Ticket) { x.Title = "v2" })
	h.publish(ev)
	h.waitVersion(v1.ID, 2, false)
	testinfra.Eventually(t, 5*time.Second, func() bool { return h.rdb.Exists(ctx, h.cache.Keys().Canary()).Val() == 1 },
		"the detector never set its canary")
	// The flush and the stale fill happen between two checks.
	loss.paused.Store(true)
	time.Sleep(4 * cfg.LossInterval) // a check under way has finished
	if err := h.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if stored, err := h.cache.SetTicket(ctx, v1); err != nil || !stored {
		t.Fatalf("the stale fill after the flush: stored=%v err=%v", stored, err)
	}
	if e, _ := h.entry(v1.ID); e.Version != 1 {
		t.Fatalf("entry %+v, want the stale v1", e)
	}
	loss.paused.Store(false)
	h.waitVersion(v1.ID, 2, false)
	// The newest event of each ticket only: v2, not v1 then v2.
	testinfra.Eventually(t, 5*time.Second, func() bool { return testutil.ToFloat64(r.m.Replayed) >= 1 },
		"the replay did not apply the ticket's newest event")
	if n := testutil.ToFloat64(r.m.Replayed); n != 1 {
		t.Fatalf("the replay applied %v events, want the newest only", n)
	}
	if n := testutil.ToFloat64(r.m.RedisLosses); n != 1 {
		t.Fatalf("%v losses counted, want 1", n)
	}
	if stored, err := h.cache.SetTicket(ctx, v1); err != nil || stored {
		t.Fatalf("a fill landing after the replay: stored=%v err=%v, want refused", stored, err)
	}
}

// pausedLoss is a loss checker that reports nothing while paused.
type pausedLoss struct {
	d      *ticketcache.LossDetector
	paused atomic.Bool
}

func (p *pausedLoss) Check(ctx context.Context) (bool, error) {
	if p.paused.Load() {
		return false, nil
	}
	return p.d.Check(ctx)
}

// Without the replica it waits for, a write is retried; on its last
// delivery it is acknowledged, not dead-lettered: the primary has it.
func TestLastDeliveryWithoutReplicaAcks(t *testing.T) {
	t.Parallel()
	rs := testinfra.StartRedisServer(t) // no replica
	h := newHarnessOn(t, testinfra.NATSURL(t), rs.URL(), true)
	cfg := h.config()
	cfg.MaxDeliver = 2
	r := h.startWith(cfg, ticketcache.New(h.rdb, h.cache.Keys(), time.Minute,
		ticketcache.WaitReplicas(1, 20*time.Millisecond)))
	tk := newTicket(t, "unreplicated")
	h.publish(created(t, tk))
	h.waitVersion(tk.ID, 1, false)
	h.waitDrained("cache-invalidator")
	if n := len(h.dlqMessages()); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
	if n := testutil.ToFloat64(r.m.Processed.WithLabelValues("created", "retried")); n != 1 {
		t.Fatalf("retried %v times, want 1", n)
	}
	if n := testutil.ToFloat64(r.m.Processed.WithLabelValues("created", "applied")); n != 1 {
		t.Fatalf("applied %v times, want 1", n)
	}
}

// With the default LIST_REBUMP_DELAY, a page a lagging read replica served
// without the change, cached under the generation of the change's bump, is
// read for at most that delay: the second bump retires it.
func TestDefaultRebumpRetiresAPageFromALaggingReplica(t *testing.T) {
	t.Parallel()
	cfgEnv, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	delay := cfgEnv.ListRebumpDelay
	if delay <= 0 {
		t.Fatalf("LIST_REBUMP_DELAY defaults to %v: a lagging replica's page would live for the TTL", delay)
	}
	h := newHarness(t)
	h.startRule(h.config(), h.cache, delay)
	ctx := context.Background()
	q := ticketcache.ListQuery{Status: ticket.StatusOpen, SortBy: "created_at", Order: "desc", Limit: 50}

	tk := newTicket(t, "new")
	h.publish(created(t, tk))
	h.waitVersion(tk.ID, 1, false) // bumped with the ticket
	bumped := time.Now()
	// A reader right after the bump, on a replica without the ticket yet.
	gen, key, _, found, err := h.cache.GenerationAndList(ctx, q, 0)
	if err != nil || found {
		t.Fatalf("list after the bump: %v %v", found, err)
	}
	if err := h.cache.SetList(ctx, key, []byte(`{"items":[],"next_cursor":null}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, found, _ := h.cache.GenerationAndList(ctx, q, gen); !found && time.Since(bumped) < delay {
		t.Fatal("the page was not served before the second bump: the test shows nothing")
	}
	testinfra.Eventually(t, delay+5*time.Second, func() bool {
		_, _, _, found, err := h.cache.GenerationAndList(ctx, q, gen)
		return err == nil && !found
	}, "the page without the ticket was still served after the second bump")
	if waited := time.Since(bumped); waited < delay-100*time.Millisecond {
		t.Fatalf("retired after %v, before the delay %v", waited, delay)
	}
}
