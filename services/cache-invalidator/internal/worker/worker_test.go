package worker_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

func TestCreateUpdateDeleteReachTheCache(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.start(h.config())

	tk := newTicket(t, "Printer on floor 3 is jammed")
	h.publish(created(t, tk))
	e := h.waitVersion(tk.ID, 1, false)
	var got ticket.Ticket
	if err := json.Unmarshal(e.JSON, &got); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(tk)
	if string(e.JSON) != string(want) {
		t.Fatalf("cached %s\nwant   %s", e.JSON, want)
	}
	// Create touches the lists it belongs to: any/any, open/any, any/alice, open/alice.
	h.waitDrained("cache-invalidator") // lists are bumped after the ticket key
	// Generations come from Redis's clock; what matters is which moved.
	gens := map[[2]string]int64{}
	moved := func(status, assignee string) bool {
		t.Helper()
		k := [2]string{status, assignee}
		g, before := h.gen(status, assignee), gens[k]
		gens[k] = g
		return g != before
	}
	for _, f := range [][2]string{{"", ""}, {"open", ""}, {"", "alice"}, {"open", "alice"}} {
		if !moved(f[0], f[1]) {
			t.Fatalf("lists %v not bumped by the create", f)
		}
	}
	if moved("closed", "") {
		t.Fatal("closed lists bumped by an open ticket")
	}

	// Closing it and handing it to carol moves the lists of both states.
	v2, ev := updated(t, tk, func(x *ticket.Ticket) { x.Title, x.Status, x.Assignee = "Fixed", "closed", "carol" })
	h.publish(ev)
	e = h.waitVersion(tk.ID, 2, false)
	if err := json.Unmarshal(e.JSON, &got); err != nil || got.Title != "Fixed" || got.Assignee != "carol" {
		t.Fatalf("cached %s (%v)", e.JSON, err)
	}
	h.waitDrained("cache-invalidator")
	for _, f := range [][2]string{{"", ""}, {"open", "alice"}, {"closed", "carol"}, {"closed", ""}, {"", "carol"}, {"open", ""}} {
		if !moved(f[0], f[1]) {
			t.Fatalf("lists %v not bumped by the update", f)
		}
	}
	if moved("in_progress", "") {
		t.Fatal("in_progress lists bumped by a change between open and closed")
	}

	h.publish(deleted(t, v2))
	e = h.waitVersion(tk.ID, 3, true)
	if e.JSON != nil {
		t.Fatalf("tombstone carries a body: %s", e.JSON)
	}
	h.waitDrained("cache-invalidator")
	if !moved("closed", "carol") {
		t.Fatal("delete left closed/carol lists at their generation")
	}
	if n := testutil.ToFloat64(r.m.Processed.WithLabelValues("deleted", "applied")); n != 1 {
		t.Fatalf("processed{deleted,applied} = %v", n)
	}
	// One write-to-fresh observation per applied event; no redelivery
	// without a failure.
	if n := sampleCount(t, r.m.Fresh); n != 3 {
		t.Fatalf("write-to-fresh observed %d times, want 3", n)
	}
	if n := testutil.ToFloat64(r.m.Redeliveries); n != 0 {
		t.Fatalf("%v redeliveries without a failure", n)
	}
}

// The same events in order, or shuffled with duplicates, end in the same
// cache state, for the ticket key and for the list generations' effect.
func TestDuplicatesAndOutOfOrderConverge(t *testing.T) {
	t.Parallel()
	history := func(id string) []*eventsv1.TicketChanged {
		tk := newTicket(t, "v1")
		tk.ID = id
		evs := []*eventsv1.TicketChanged{created(t, tk)}
		cur := tk
		for i := range 6 {
			var ev *eventsv1.TicketChanged
			cur, ev = updated(t, cur, func(x *ticket.Ticket) {
				x.Title = "v" + string(rune('2'+i))
				x.Status = []string{"open", "in_progress", "resolved"}[i%3]
			})
			evs = append(evs, ev)
		}
		return evs
	}
	ordered, shuffled := newHarness(t), newHarness(t)
	idKept, idDeleted := testinfra.UniqueName(t, "kept"), testinfra.UniqueName(t, "gone")
	evsKept := history(idKept)
	evsGone := history(idDeleted)
	last := evsGone[len(evsGone)-1].GetTicket()
	prev := ticketevent.FromProto(last)
	evsGone = append(evsGone, deleted(t, prev))

	for _, ev := range append(append([]*eventsv1.TicketChanged{}, evsKept...), evsGone...) {
		ordered.publish(ev)
	}
	mixed := append(append([]*eventsv1.TicketChanged{}, evsKept...), evsGone...)
	mixed = append(mixed, evsKept[len(evsKept)-1], evsGone[0], evsGone[len(evsGone)-1], evsKept[0])
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(mixed), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	// Put the newest of each first, the worst case for a naive cache.
	for _, ev := range append([]*eventsv1.TicketChanged{evsKept[len(evsKept)-1], evsGone[len(evsGone)-1]}, mixed...) {
		shuffled.publish(ev)
	}
	cfg := ordered.config()
	cfg.Concurrency = 1 // strictly in order
	ordered.start(cfg)
	shuffled.start(shuffled.config())

	for _, h := range []*harness{ordered, shuffled} {
		h.waitVersion(idKept, 7, false)
		h.waitVersion(idDeleted, 8, true)
		h.waitDrained("cache-invalidator")
	}
	a, _ := ordered.entry(idKept)
	b, _ := shuffled.entry(idKept)
	if string(a.JSON) != string(b.JSON) {
		t.Fatalf("ticket differs:\nordered  %s\nshuffled %s", a.JSON, b.JSON)
	}
	// Every list a ticket ever belonged to was invalidated in both runs
	// (the shuffled one more often, which only costs a recomputation).
	for _, f := range [][2]string{{"", ""}, {"open", ""}, {"in_progress", "alice"}, {"resolved", ""}} {
		if ordered.gen(f[0], f[1]) == 0 || shuffled.gen(f[0], f[1]) == 0 {
			t.Fatalf("lists %v: generation %d ordered, %d shuffled", f, ordered.gen(f[0], f[1]), shuffled.gen(f[0], f[1]))
		}
	}
}

// Two instances on one durable consumer share the work and reach the same
// state as one would.
func TestTwoWorkersShareTheConsumer(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a, b := h.start(h.config()), h.start(h.config())
	for _, r := range []*running{a, b} {
		testinfra.Eventually(t, 10*time.Second, func() bool { return r.w.Ready(t.Context()) == nil },
			"a worker never attached")
	}
	const tickets, versions = 10, 8
	lastOf := map[string]int64{}
	for range tickets {
		tk := newTicket(t, "t")
		h.publish(created(t, tk))
		cur := tk
		for range versions - 1 {
			var ev *eventsv1.TicketChanged
			cur, ev = updated(t, cur, func(x *ticket.Ticket) { x.Title += "+" })
			h.publish(ev)
		}
		lastOf[tk.ID] = cur.Version
	}
	for id, v := range lastOf {
		h.waitVersion(id, v, false)
	}
	h.waitDrained("cache-invalidator")
	handled := func(r *running) float64 {
		n := 0.0
		for _, o := range []string{"applied", "superseded"} {
			for _, c := range []string{"created", "updated"} {
				n += testutil.ToFloat64(r.m.Processed.WithLabelValues(c, o))
			}
		}
		return n
	}
	// Each event handled once in all, and each worker took a share.
	if na, nb := handled(a), handled(b); na+nb != tickets*versions || na == 0 || nb == 0 {
		t.Fatalf("worker a handled %v events, b %v; want %d in all, shared", na, nb, tickets*versions)
	}
}

// slowCache makes each ticket write take a while, so a test can stop a
// worker in the middle of a stream.
type slowCache struct {
	invalidation.Cache
	delay time.Duration
}

func (c slowCache) SetTicket(ctx context.Context, t ticket.Ticket) (bool, error) {
	time.Sleep(c.delay)
	return c.Cache.SetTicket(ctx, t)
}

func sampleCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// A worker cancelled mid-stream and started again misses nothing, and the
// messages it held are handed back at once, not after AckWait.
func TestRestartMidStreamMissesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = 300
	ids := make([]string, 0, n)
	for i := range n {
		tk := newTicket(t, "t")
		ids = append(ids, tk.ID)
		h.publish(created(t, tk))
		if i%3 == 0 {
			_, ev := updated(t, tk, func(x *ticket.Ticket) { x.Title = "second" })
			h.publish(ev)
		}
	}
	cfg := h.config()
	cfg.AckWait = time.Minute // anything left unacked would show as a long stall
	cfg.Concurrency = 2
	first := h.startRule(cfg, slowCache{Cache: h.cache, delay: 5 * time.Millisecond}, 0)
	testinfra.Eventually(t, 20*time.Second, func() bool {
		return testutil.ToFloat64(first.m.Processed.WithLabelValues("created", "applied")) >= 30
	}, "the first worker never got going")
	first.stop(t)
	if done := testutil.ToFloat64(first.m.Processed.WithLabelValues("created", "applied")); done >= n {
		t.Fatalf("the first worker finished everything (%v) before it was stopped: the restart proves nothing", done)
	}

	h.start(cfg)
	for i, id := range ids {
		v := int64(1)
		if i%3 == 0 {
			v = 2
		}
		h.waitVersion(id, v, false)
	}
	h.waitDrained("cache-invalidator")
}

// A worker started before NATS answers and before the stream exists waits,
// reports not ready, and consumes once both are there.
func TestWaitsForNATSAndTheStream(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	h := newHarnessOn(t, srv.URL(), testinfra.RedisURL(t), false)
	srv.Stop()
	r := h.start(h.config())
	if err := r.w.Ready(context.Background()); err == nil {
		t.Fatal("ready without NATS")
	}
	srv.Start(t)
	// NATS is back but the stream does not exist yet: still not ready.
	testinfra.Eventually(t, 10*time.Second, func() bool {
		_, err := h.js.AccountInfo(context.Background())
		return err == nil
	}, "the test's NATS connection never came back")
	if err := r.w.Ready(context.Background()); err == nil {
		t.Fatal("ready without the stream")
	}
	h.createStream()
	testinfra.Eventually(t, 10*time.Second, func() bool { return r.w.Ready(context.Background()) == nil },
		"never attached after the stream appeared")
	tk := newTicket(t, "late")
	h.publish(created(t, tk))
	h.waitVersion(tk.ID, 1, false)

	// The stream deleted and created again (an operator's reset): the
	// worker attaches to the new one.
	if err := h.js.DeleteStream(context.Background(), h.stream.Name); err != nil {
		t.Fatal(err)
	}
	h.createStream()
	v2, ev := updated(t, tk, func(x *ticket.Ticket) { x.Title = "after reset" })
	h.publish(ev)
	h.waitVersion(v2.ID, 2, false)
}

// With a read replica, a page computed from data older than the change can
// be cached under the first bump's generation; the second bump retires it.
func TestListRebumpAfterDelay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.startRule(h.config(), h.cache, time.Second)
	tk := newTicket(t, "replica")
	h.publish(created(t, tk))
	h.waitVersion(tk.ID, 1, false) // the first bump goes with the ticket
	first, unfiltered := h.gen(tk.Status, ""), h.gen("", "")
	testinfra.Eventually(t, 5*time.Second, func() bool { return h.gen(tk.Status, "") > first },
		"the lists of the ticket's status were not bumped a second time")
	if g := h.gen("", ""); g <= unfiltered {
		t.Fatalf("unfiltered lists still at generation %d", g)
	}
}
