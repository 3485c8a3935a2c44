package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func TestEventHeadersAndBody(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	tk := createTicket(t, srv, "headers")

	m := s.waitMessages(1)[0]
	ev := m.event
	if m.subject != s.stream.SubjectPrefix+"."+tk.ID {
		t.Fatalf("subject %q", m.subject)
	}
	want := map[string]string{
		"Nats-Msg-Id":    ev.GetEventId(),
		"ce-id":          ev.GetEventId(),
		"ce-specversion": "1.0",
		"ce-type":        "tickets.ticket.changed.v1",
		"ce-source":      "/ticketsys/command",
		"ce-subject":     tk.ID,
		"content-type":   "application/json",
	}
	for k, v := range want {
		if got := m.header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, m.header.Get("ce-time")); err != nil {
		t.Errorf("ce-time %q: %v", m.header.Get("ce-time"), err)
	}
	if _, err := uuid.Parse(ev.GetEventId()); err != nil {
		t.Errorf("event id %q", ev.GetEventId())
	}
	var body map[string]any
	if err := json.Unmarshal(m.data, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_id", "ticket_id", "version", "change", "occurred_at", "ticket", "actor", "correlation_id"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body lacks %q: %s", k, m.data)
		}
	}
	if body["change"] != "CREATED" {
		t.Errorf("change %v", body["change"])
	}
	got := ticketevent.FromProto(ev.GetTicket())
	if got.Title != tk.Title || got.Version != 1 || !got.CreatedAt.Equal(tk.CreatedAt) {
		t.Errorf("snapshot %+v differs from response %+v", got, tk)
	}
}

// Two instances write the same tickets concurrently; both run a relay, one
// of which is active. Every change is published once and stored once, per
// ticket in version order.
func TestOrderAndExactlyOnceWithTwoInstances(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srvs := []*instance{s.start(), s.start()}
	const tickets, writers, writes = 5, 4, 10
	ids := make([]string, tickets)
	for i := range ids {
		ids[i] = createTicket(t, srvs[i%2], fmt.Sprintf("ticket %d", i)).ID
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		for w := range writers {
			wg.Go(func() {
				for n := range writes {
					r := do(t, srvs[(w+n)%2], http.MethodPatch, "/tickets/"+id,
						fmt.Sprintf(`{"title":"t%d w%d n%d"}`, i, w, n))
					if r.status != http.StatusOK {
						t.Errorf("status %d: %s", r.status, r.body)
					}
				}
			})
		}
	}
	wg.Wait()
	// One relay holds the lock; the other waits for it.
	if a, b := metricValue(t, srvs[0].URL, "ticketsys_outbox_relay_active"), metricValue(t, srvs[1].URL, "ticketsys_outbox_relay_active"); a+b != 1 {
		t.Fatalf("relays active: %v and %v, want exactly one", a, b)
	}

	msgs := s.waitMessages(tickets * (1 + writers*writes))
	last := map[string]int64{}
	seen := map[string]bool{}
	for _, m := range msgs {
		id, v := m.event.GetTicketId(), m.event.GetVersion()
		if v != last[id]+1 {
			t.Fatalf("ticket %s: version %d after %d", id, v, last[id])
		}
		last[id] = v
		if seen[m.event.GetEventId()] {
			t.Fatalf("event %s twice", m.event.GetEventId())
		}
		seen[m.event.GetEventId()] = true
	}
	for _, id := range ids {
		if last[id] != 1+writers*writes {
			t.Fatalf("ticket %s ends at version %d", id, last[id])
		}
	}
	// A row is marked sent after its acknowledgement, which can come after
	// the message is stored.
	testinfra.Eventually(t, 10*time.Second, func() bool { return s.unsent() == 0 }, "%d rows unsent", s.unsent())
}

// With NATS down, writes succeed and wait in the outbox; nothing is lost
// when NATS is back.
func TestNATSDownWritesWaitThenCatchUp(t *testing.T) {
	t.Parallel()
	ns := testinfra.StartNATSServer(t)
	s := newStack(t, ns.URL())
	srv := s.start()
	first := createTicket(t, srv, "before outage")
	s.waitMessages(1)

	ns.Stop()
	var ids []string
	for i := range 10 {
		ids = append(ids, createTicket(t, srv, fmt.Sprintf("during outage %d", i)).ID)
	}
	mustStatus(t, do(t, srv, http.MethodPatch, "/tickets/"+first.ID, `{"status":"resolved"}`), http.StatusOK)
	mustStatus(t, do(t, srv, http.MethodDelete, "/tickets/"+ids[0], ""), http.StatusNoContent)
	if n := s.unsent(); n != 12 {
		t.Fatalf("%d rows wait in the outbox, want 12", n)
	}

	ns.Start(t)
	// A publish cut off by the outage may go out again (JetStream drops the
	// copy), and the test's own subscriber may miss some while it
	// reconnects: only the stored messages count here.
	msgs := s.waitStored(13)
	testinfra.Eventually(t, 10*time.Second, func() bool { return s.unsent() == 0 }, "outbox never drained")
	got := map[string]bool{}
	for _, m := range msgs {
		got[m.event.GetTicketId()] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Fatalf("ticket %s has no event", id)
		}
	}
}

// A relay that crashed after the publish but before marking the row sends
// it again; JetStream drops it as a duplicate.
func TestRepublishIsDroppedAsDuplicate(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	createTicket(t, srv, "dup")
	s.waitMessages(1)

	if _, err := s.pool.Exec(t.Context(), `UPDATE outbox SET published_at = NULL`); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 10*time.Second, func() bool { return s.unsent() == 0 }, "row never re-sent")
	msgs := s.waitStored(1)
	if n := s.publishes()[msgs[0].event.GetEventId()]; n != 2 {
		t.Fatalf("the event was published %d times, want twice (once again after the reset)", n)
	}
	testinfra.Eventually(t, 5*time.Second, func() bool {
		return metricValue(t, srv.URL, `ticketsys_outbox_published_total{outcome="duplicate"}`) >= 1
	}, "no duplicate counted")
	if metricValue(t, srv.URL, `ticketsys_pgx_pool_acquires_total{pool="primary"}`) < 1 {
		t.Fatal("pool metrics missing from /metrics")
	}
}

// A transaction that took a lower outbox id but commits after a later one
// was sent is still published: the relay reads unsent rows, not an offset.
func TestLateCommitIsNotSkipped(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()

	ctx := t.Context()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Commit it is a no-op
	lateID := uuid.Must(uuid.NewV7()).String()
	tk := ticket.Ticket{ID: lateID, Title: "late", Status: "open", Priority: "low", Tags: []string{}, Version: 1,
		CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	ev := ticketevent.New(ticketevent.Meta{EventID: uuid.NewString(), OccurredAt: time.Now()}, ticketevent.Created, nil, &tk, 1)
	payload, err := ticketevent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var lateRow int64
	if err := tx.QueryRow(ctx, `INSERT INTO outbox (event_id, ticket_id, version, headers, payload)
		VALUES ($1, $2, 1, $3, $4) RETURNING id`, ev.GetEventId(), lateID,
		ticketevent.Headers(ev, "/test"), payload).Scan(&lateRow); err != nil {
		t.Fatal(err)
	}

	early := createTicket(t, srv, "committed first")
	msgs := s.waitMessages(1)
	if msgs[0].event.GetTicketId() != early.ID {
		t.Fatalf("first event is for %s", msgs[0].event.GetTicketId())
	}
	var earlyRow int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM outbox WHERE ticket_id = $1`, early.ID).Scan(&earlyRow); err != nil {
		t.Fatal(err)
	}
	if earlyRow <= lateRow {
		t.Fatalf("test setup: early row %d should have a higher id than late row %d", earlyRow, lateRow)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	msgs = s.waitMessages(2)
	if msgs[1].event.GetTicketId() != lateID {
		t.Fatalf("late row not published: %v", msgs[1].event)
	}
}

func TestSentRowsArePruned(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO outbox (event_id, ticket_id, version, headers, payload, published_at)
		VALUES ($1, $2, 1, '{}', '{}', now() - interval '2 hours')`, uuid.NewString(), uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	srv := s.start("OUTBOX_RETENTION", "1h")
	createTicket(t, srv, "kept")
	s.waitMessages(1)
	testinfra.Eventually(t, 10*time.Second, func() bool {
		var old, kept int
		err := s.pool.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE published_at < now() - interval '1 hour'),
			count(*) FILTER (WHERE published_at > now() - interval '1 hour') FROM outbox`).Scan(&old, &kept)
		return err == nil && old == 0 && kept == 1
	}, "old sent rows were not pruned (or recent ones were)")
}

func metricValue(t testing.TB, base, series string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimPrefix(line, series+" "), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return v
		}
	}
	return -1
}
