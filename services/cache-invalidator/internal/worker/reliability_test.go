package worker_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// panicCache panics on every write of one ticket, as a cache bug that
// chokes on one value would.
type panicCache struct {
	invalidation.Cache
	poison string
}

func (c panicCache) Change(ctx context.Context, id string, version int64, prev, next *ticket.Ticket) (bool, error) {
	if id == c.poison {
		panic("cache bug on " + id)
	}
	return c.Cache.Change(ctx, id, version, prev, next)
}

// A panic while handling one message is recovered: the worker goes on with
// the others, and the poisoned message is retried and then dead-lettered
// like any failure. Unrecovered, the panic ends the test binary.
func TestPanicIsRecoveredAndDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	poison := newTicket(t, "poison")
	cfg := h.config()
	cfg.MaxDeliver = 3
	r := h.startRule(cfg, panicCache{Cache: h.cache, poison: poison.ID}, 0)

	var good []ticket.Ticket
	for i := range 6 {
		if i == 3 {
			h.publish(created(t, poison))
		}
		tk := newTicket(t, "good")
		good = append(good, tk)
		h.publish(created(t, tk))
	}
	for _, tk := range good {
		h.waitVersion(tk.ID, 1, false)
	}
	testinfra.Eventually(t, 20*time.Second, func() bool { return len(h.dlqMessages()) == 1 }, "the poisoned event was never dead-lettered")
	m := h.dlqMessages()[0]
	if m.Subject != h.dlq.Subject(poison.ID) || m.Header.Get(ticketevent.HeaderDLQReason) != "exhausted" ||
		m.Header.Get(ticketevent.HeaderDLQDeliveries) != "3" || !strings.Contains(m.Header.Get(ticketevent.HeaderDLQError), "panic") {
		t.Fatalf("DLQ message %s %v", m.Subject, m.Header)
	}
	h.waitDrained("cache-invalidator")
	if n := testutil.ToFloat64(r.m.Panics); n != 3 {
		t.Fatalf("panics counted %v, want one per delivery (3)", n)
	}
	if n := testutil.ToFloat64(r.m.Processed.WithLabelValues("created", "retried")); n != 2 {
		t.Fatalf("retried %v times, want 2 before the last delivery", n)
	}
	if _, found := h.entry(poison.ID); found {
		t.Fatal("the poisoned ticket is cached")
	}

	// Still consuming afterwards.
	select {
	case err := <-r.done:
		t.Fatalf("Run returned after the panics: %v", err)
	default:
	}
	late := newTicket(t, "after the panics")
	h.publish(created(t, late))
	h.waitVersion(late.ID, 1, false)
}

// Messages dead-lettered during a long Redis outage (many that do not
// decode, each on a ticket's subject) have their keys wait in one bounded
// queue, not a goroutine each, deleted once Redis is back.
//
// Not parallel: it counts the process's goroutines, which other tests'
// workers would blur.
func TestDeadLetterPurgesDuringOutageAreBounded(t *testing.T) {
	rs := testinfra.StartRedisServer(t)
	h := newHarnessOn(t, testinfra.NATSURL(t), rs.URL(), true)
	ctx := context.Background()
	const n = 500
	tickets := make([]ticket.Ticket, n)
	keys := make([]string, n)
	for i := range tickets {
		tickets[i] = newTicket(t, "stale")
		keys[i] = h.cache.Keys().Ticket(tickets[i].ID)
		if _, err := h.cache.SetTicket(ctx, tickets[i]); err != nil {
			t.Fatal(err)
		}
	}
	r := h.start(h.config())
	testinfra.Eventually(t, 10*time.Second, func() bool { return r.w.Ready(ctx) == nil }, "never attached")
	rs.Stop() // the stale versions are saved and come back with the server
	before := runtime.NumGoroutine()

	for _, tk := range tickets {
		h.publishRaw(h.stream.Subject(tk.ID), ticketevent.ContentTypeJSON, []byte(`{"event_id":`))
	}
	testinfra.Eventually(t, 60*time.Second, func() bool { return testutil.ToFloat64(r.m.PurgesPending) == n },
		"the dead-lettered events' purges were not all pending")
	if got := len(h.dlqMessages()); got != n {
		t.Fatalf("%d events in the DLQ, want %d", got, n)
	}
	// A goroutine per pending purge would add n; the margin is for the
	// clients' and runtime's own.
	if after := runtime.NumGoroutine(); after > before+n/5 {
		t.Fatalf("%d goroutines with %d purges pending, %d before the outage", after, n, before)
	}

	rs.Start(t)
	testinfra.Eventually(t, 60*time.Second, func() bool {
		left, err := h.rdb.Exists(ctx, keys...).Result()
		return err == nil && left == 0
	}, "stale ticket keys survived after Redis came back")
	testinfra.Eventually(t, 10*time.Second, func() bool { return testutil.ToFloat64(r.m.PurgesPending) == 0 },
		"purges still counted as pending")
	h.waitDrained("cache-invalidator")
}

// The DLQ stream is created with its bounds and drops its oldest messages,
// not new ones, once full.
func TestDLQBoundsDropOldest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.dlq.MaxMsgs = 3
	cfg := h.config()
	cfg.Concurrency = 1 // dead-lettered in the order published
	r := h.start(cfg)
	for i := range 5 {
		h.publishRaw(h.stream.Subject("bad"+string(rune('a'+i))), "text/plain", []byte("x"))
	}
	testinfra.Eventually(t, 20*time.Second, func() bool {
		return testutil.ToFloat64(r.m.DeadLettered.WithLabelValues("undecodable")) == 5
	}, "not every message was dead-lettered")
	h.waitDrained("cache-invalidator")
	msgs := h.dlqMessages()
	if len(msgs) != 3 || msgs[0].Subject != h.dlq.Subject("badc") || msgs[2].Subject != h.dlq.Subject("bade") {
		var subjects []string
		for _, m := range msgs {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("DLQ holds %v, want the newest 3", subjects)
	}
}
