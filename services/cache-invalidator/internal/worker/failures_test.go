package worker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Redis stopped mid-stream: the deliveries are held (kept in progress, not
// handed back with a back-off, never dead-lettered) and applied as soon as
// Redis answers again; every ticket reaches its last version.
func TestRedisOutageHoldsEvents(t *testing.T) {
	t.Parallel()
	rs := testinfra.StartRedisServer(t)
	h := newHarnessOn(t, testinfra.NATSURL(t), rs.URL(), true)
	cfg := h.config()
	cfg.HoldProbe = 50 * time.Millisecond
	r := h.start(cfg)

	var tickets []ticket.Ticket
	for range 5 {
		tk := newTicket(t, "before")
		tickets = append(tickets, tk)
		h.publish(created(t, tk))
	}
	for _, tk := range tickets {
		h.waitVersion(tk.ID, 1, false)
	}

	rs.Stop()
	for i, tk := range tickets {
		next, ev := updated(t, tk, func(x *ticket.Ticket) { x.Title = "during the outage" })
		tickets[i] = next
		h.publish(ev)
	}
	testinfra.Eventually(t, 10*time.Second, func() bool { return testutil.ToFloat64(r.m.Held) == 5 },
		"the outage's 5 deliveries were not all held")
	// Held well past RetryMax and many probes: still no redelivery.
	time.Sleep(10 * cfg.RetryMax)
	if n := testutil.ToFloat64(r.m.Redeliveries); n != 0 {
		t.Fatalf("%v redeliveries during the outage: deliveries were handed back", n)
	}
	h.restartRedis(rs)
	for _, tk := range tickets {
		h.waitVersion(tk.ID, 2, false)
	}
	h.waitDrained("cache-invalidator")
	testinfra.Eventually(t, 5*time.Second, func() bool { return testutil.ToFloat64(r.m.Held) == 0 }, "held gauge never fell back")
	// Superseded: a held apply that stored the ticket and then lost Redis
	// before its list bumps is applied again, and finds its version there.
	if n := testutil.ToFloat64(r.m.Processed.WithLabelValues("updated", "applied")) +
		testutil.ToFloat64(r.m.Processed.WithLabelValues("updated", "superseded")); n != 5 {
		t.Fatalf("applied %v updates, want 5", n)
	}
	if msgs := h.dlqMessages(); len(msgs) != 0 {
		t.Fatalf("%d events dead-lettered during an outage", len(msgs))
	}
}

// restartRedis starts rs again and waits until the harness's client, which
// the worker shares, answers: go-redis's pool dials again within a second
// of failed dials.
func (h *harness) restartRedis(rs *testinfra.RedisServer) {
	h.t.Helper()
	rs.Start(h.t)
	testinfra.Eventually(h.t, 5*time.Second, func() bool { return h.rdb.Ping(context.Background()).Err() == nil },
		"Redis does not answer after its restart")
}

// A worker stopped while it holds deliveries for Redis returns promptly and
// hands them back: the next worker applies them once Redis is back.
func TestStopWhileHoldingHandsBack(t *testing.T) {
	t.Parallel()
	rs := testinfra.StartRedisServer(t)
	h := newHarnessOn(t, testinfra.NATSURL(t), rs.URL(), true)
	cfg := h.config()
	cfg.HoldProbe = 50 * time.Millisecond
	r := h.start(cfg)
	tk := newTicket(t, "before")
	h.publish(created(t, tk))
	h.waitVersion(tk.ID, 1, false)

	rs.Stop()
	_, ev := updated(t, tk, func(x *ticket.Ticket) { x.Title = "during the outage" })
	h.publish(ev)
	testinfra.Eventually(t, 10*time.Second, func() bool { return testutil.ToFloat64(r.m.Held) == 1 }, "the delivery was not held")
	start := time.Now()
	r.stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stopping took %v with a delivery held", d)
	}
	h.restartRedis(rs)
	h.start(cfg)
	h.waitVersion(tk.ID, 2, false)
	h.waitDrained("cache-invalidator")
	if msgs := h.dlqMessages(); len(msgs) != 0 {
		t.Fatalf("%d events dead-lettered", len(msgs))
	}
}

// Messages nobody can decode go to the DLQ with the reason, and the worker
// goes on with the next ones.
func TestPoisonMessagesAreDeadLettered(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.start(h.config())

	victim := newTicket(t, "cached before the poison")
	if _, err := h.cache.SetTicket(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	h.publishRaw(h.stream.Subject(victim.ID), ticketevent.ContentTypeJSON, []byte(`{"event_id":`))
	h.publishRaw(h.stream.Subject("other"), "text/plain", []byte(`hello`))
	noSnapshot := created(t, newTicket(t, "x"))
	noSnapshot.Ticket = nil
	h.publish(noSnapshot)
	good := newTicket(t, "after the poison")
	h.publish(created(t, good))

	h.waitVersion(good.ID, 1, false)
	h.waitDrained("cache-invalidator")
	var msgs []string
	testinfra.Eventually(t, 10*time.Second, func() bool { return len(h.dlqMessages()) == 3 }, "DLQ never held 3 messages")
	for _, m := range h.dlqMessages() {
		if m.Header.Get(ticketevent.HeaderDLQReason) != "undecodable" || m.Header.Get(ticketevent.HeaderDLQError) == "" ||
			m.Header.Get(ticketevent.HeaderDLQOriginalSequence) == "" || m.Header.Get(ticketevent.HeaderDLQDeliveries) != "1" ||
			m.Header.Get(ticketevent.HeaderDLQOriginalStream) != h.stream.Name {
			t.Fatalf("DLQ message %s lacks its reason headers: %v", m.Subject, m.Header)
		}
		msgs = append(msgs, m.Subject+" <- "+m.Header.Get(ticketevent.HeaderDLQOriginalSubject)+": "+m.Header.Get(ticketevent.HeaderDLQError))
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		h.dlq.Subject(victim.ID) + " <- " + h.stream.Subject(victim.ID),
		h.dlq.Subject("other") + " <- " + h.stream.Subject("other"),
		"unsupported content type",
		"without a matching ticket snapshot",
	} {
		if !strings.Contains(all, want) {
			t.Fatalf("DLQ lacks %q:\n%s", want, all)
		}
	}
	// The undecodable event's ticket key (named by its subject) is purged.
	testinfra.Eventually(t, 10*time.Second, func() bool { _, found := h.entry(victim.ID); return !found },
		"the poison message's ticket key was never purged")
	if n := testutil.ToFloat64(r.m.DeadLettered.WithLabelValues("undecodable")); n != 3 {
		t.Fatalf("dead-lettered counter %v, want 3", n)
	}
}

// An event that fails on every delivery is dead-lettered on the last one,
// and the keys it affects are deleted.
func TestLastDeliveryFailureDeadLettersAndPurges(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tk := newTicket(t, "stuck")
	// A key of the wrong type makes the fenced write fail on every delivery
	// (WRONGTYPE), while a delete still works.
	ctx := context.Background()
	if err := h.rdb.HSet(ctx, h.cache.Keys().Ticket(tk.ID), "junk", "1").Err(); err != nil {
		t.Fatal(err)
	}
	cfg := h.config()
	cfg.MaxDeliver = 3
	r := h.start(cfg)
	next, ev := updated(t, tk, func(x *ticket.Ticket) { x.Status = "closed" })
	h.publish(ev)

	testinfra.Eventually(t, 10*time.Second, func() bool { return len(h.dlqMessages()) == 1 }, "never dead-lettered")
	m := h.dlqMessages()[0]
	if m.Header.Get(ticketevent.HeaderDLQReason) != "exhausted" || m.Header.Get(ticketevent.HeaderDLQDeliveries) != "3" ||
		!strings.Contains(m.Header.Get(ticketevent.HeaderDLQError), "WRONGTYPE") || m.Subject != h.dlq.Subject(tk.ID) {
		t.Fatalf("DLQ message %s %v", m.Subject, m.Header)
	}
	if got, err := ticketevent.Unmarshal(m.Header.Get("content-type"), m.Data); err != nil || got.GetVersion() != next.Version {
		t.Fatalf("DLQ body is not the original event: %v", err)
	}
	testinfra.Eventually(t, 10*time.Second, func() bool {
		return h.rdb.Exists(ctx, h.cache.Keys().Ticket(tk.ID)).Val() == 0
	}, "ticket key not deleted after the last delivery")
	// At least once: a failed delivery may bump them too (bumps are always safe).
	testinfra.Eventually(t, 10*time.Second, func() bool { return h.gen("closed", "alice") >= 1 && h.gen("open", "alice") >= 1 },
		"lists of the before and after states not invalidated")
	h.waitDrained("cache-invalidator")
	if n := testutil.ToFloat64(r.m.Processed.WithLabelValues("updated", "retried")); n != 2 {
		t.Fatalf("retried %v times, want 2 before the last delivery", n)
	}
	if n := testutil.ToFloat64(r.m.DeadLettered.WithLabelValues("exhausted")); n != 1 {
		t.Fatalf("dead-lettered counter %v", n)
	}
}

// A message dead-lettered while Redis is down (one that does not decode,
// on a ticket's subject) is parked in the DLQ at once, and its ticket's key
// is deleted as soon as Redis is back.
func TestPurgeWaitsForRedis(t *testing.T) {
	t.Parallel()
	rs := testinfra.StartRedisServer(t)
	h := newHarnessOn(t, testinfra.NATSURL(t), rs.URL(), true)
	tk := newTicket(t, "old")
	if _, err := h.cache.SetTicket(context.Background(), tk); err != nil {
		t.Fatal(err)
	}
	r := h.start(h.config())
	rs.Stop() // the stale v1 is saved and comes back with the server

	h.publishRaw(h.stream.Subject(tk.ID), ticketevent.ContentTypeJSON, []byte(`{"event_id":`))
	testinfra.Eventually(t, 10*time.Second, func() bool { return len(h.dlqMessages()) == 1 }, "never dead-lettered")
	testinfra.Eventually(t, 10*time.Second, func() bool { return testutil.ToFloat64(r.m.PurgesPending) == 1 },
		"no purge pending while Redis is down")

	rs.Start(t)
	testinfra.Eventually(t, 10*time.Second, func() bool { _, found := h.entry(tk.ID); return !found },
		"the stale ticket key survived: the purge never ran after Redis came back")
	testinfra.Eventually(t, 10*time.Second, func() bool { return testutil.ToFloat64(r.m.PurgesPending) == 0 },
		"purge still counted as pending")
}

// A deleted event without its previous state still invalidates every list
// that can be named.
func TestDeleteWithoutPreviousInvalidatesBroadly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start(h.config())
	ev := &eventsv1.TicketChanged{
		EventId: testinfra.UniqueName(t, "ev"), TicketId: testinfra.UniqueName(t, "tk"), Version: 4,
		Change: ticketevent.Deleted,
	}
	h.publish(ev)
	h.waitVersion(ev.GetTicketId(), 4, true)
	h.waitDrained("cache-invalidator")
	for _, s := range []string{"", "open", "in_progress", "resolved", "closed"} {
		if h.gen(s, "") == 0 {
			t.Fatalf("lists with status %q not invalidated", s)
		}
	}
}
