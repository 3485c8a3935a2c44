package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

const batchSize = 256

// hotBacklog writes n unsent rows of one ticket, then one row of another:
// the backlog of a client that patches one ticket very fast, ahead of
// everybody else's change. Each row's header carries its version.
func hotBacklog(t *testing.T, dbURL string, n int) (hot, other string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	hot, other = uuid.NewString(), uuid.NewString()
	if _, err := conn.Exec(t.Context(), `INSERT INTO outbox (event_id, ticket_id, version, headers, payload)
		SELECT e, $1, v, jsonb_build_object('Nats-Msg-Id', e::text, 'version', v::text), '{}'
		FROM (SELECT gen_random_uuid() e, v FROM generate_series(1, $2) v) g`, hot, n); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `INSERT INTO outbox (event_id, ticket_id, version, headers, payload)
		SELECT e, $1, 1, jsonb_build_object('Nats-Msg-Id', e::text, 'version', '1'), '{}'
		FROM gen_random_uuid() e`, other); err != nil {
		t.Fatal(err)
	}
	return hot, other
}

func newRelay(t *testing.T, dbURL string) (*Relay, ticketevent.StreamOptions, *nats.Conn) {
	t.Helper()
	name := testinfra.UniqueName(t, "R")
	stream := ticketevent.StreamOptions{Name: name, SubjectPrefix: "test." + name + ".changed", Replicas: 1, MaxAge: time.Hour}
	js0 := testinfra.JetStream(t, testinfra.NATSURL(t))
	testinfra.DeleteStreamsAtCleanup(t, js0, name)
	js, err := jetstream.New(js0.Conn(), jetstream.WithPublishAsyncTimeout(5*time.Second),
		jetstream.WithPublishAsyncMaxPending(2*batchSize))
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{
		Stream: stream, PollInterval: 200 * time.Millisecond, BatchSize: batchSize,
		PublishTimeout: 5 * time.Second, Retention: time.Hour, PruneInterval: time.Minute,
		RetryInterval: 100 * time.Millisecond,
	}, dbURL, js0.Conn(), js, slog.New(slog.NewTextHandler(io.Discard, nil)), NewMetrics(prometheus.NewRegistry()))
	return r, stream, js0.Conn()
}

// A batch holds the oldest unsent rows of each ticket, up to chainDepth of
// one ticket, however many rows one ticket has waiting ahead of the others.
func TestBatchHoldsOldestRowsOfEachTicket(t *testing.T) {
	t.Parallel()
	dbURL := ticketsdb.New(t)
	hot, other := hotBacklog(t, dbURL, 2000)
	r, _, _ := newRelay(t, dbURL)
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	batch, more, err := r.next(t.Context(), conn)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for i := 1; i <= chainDepth; i++ {
		want = append(want, hot+" v"+strconv.Itoa(i))
	}
	want = append(want, other+" v1")
	for _, x := range batch {
		got = append(got, x.ticketID+" v"+x.headers["version"])
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("batch %v, want %v", got, want)
	}
	if !more {
		t.Fatalf("more is false with %d rows unsent", 2000-chainDepth)
	}
}

// A ticket whose publish fails publishes nothing after it in that batch,
// while other tickets go on; the next batch resumes at the failed row.
func TestFailedPublishStopsItsTicketOnly(t *testing.T) {
	t.Parallel()
	dbURL := ticketsdb.New(t)
	hot, other := hotBacklog(t, dbURL, 5)
	r, stream, js, conn := relayWithStream(t, dbURL)
	// v3 expects a stream sequence that is not the last: JetStream refuses
	// it, and only it. v4 and v5 would be stored if they were sent.
	fence := func(header string) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), `UPDATE outbox SET headers = headers - 'Nats-Expected-Last-Sequence' || $2::jsonb
			WHERE ticket_id = $1 AND version = 3`, hot, header); err != nil {
			t.Fatal(err)
		}
	}
	fence(`{"Nats-Expected-Last-Sequence": "999"}`)
	stored := func() []string {
		t.Helper()
		st, err := js.Stream(t.Context(), stream.Name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for seq := uint64(1); seq <= st.CachedInfo().State.LastSeq; seq++ {
			m, err := st.GetMsg(t.Context(), seq)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.TrimPrefix(m.Subject, stream.SubjectPrefix+".")+" v"+m.Header.Get("version"))
		}
		return got
	}

	batch, _, err := r.next(t.Context(), conn)
	if err != nil || len(batch) != 6 {
		t.Fatalf("batch of %d, %v", len(batch), err)
	}
	if err := r.publish(t.Context(), conn, batch); !isPublishErr(err) {
		t.Fatalf("publish: %v, want the refused v3's publish error", err)
	}
	want := []string{hot + " v1", other + " v1", hot + " v2"}
	if got := stored(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
	var unsent []int
	rows, err := conn.Query(t.Context(), `SELECT version FROM outbox WHERE published_at IS NULL ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if unsent, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(unsent) != "[3 4 5]" {
		t.Fatalf("unsent versions %v, want [3 4 5]", unsent)
	}

	fence(`{}`)
	if batch, _, err = r.next(t.Context(), conn); err != nil {
		t.Fatal(err)
	}
	if err := r.publish(t.Context(), conn, batch); err != nil {
		t.Fatal(err)
	}
	want = append(want, hot+" v3", hot+" v4", hot+" v5")
	if got := stored(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
}

// The relay publishes the other ticket's event right after the busy
// ticket's first, not behind its backlog; the busy ticket's events go out in
// version order, each once.
func TestHotTicketDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	const n = 2000
	dbURL := ticketsdb.New(t)
	hot, other := hotBacklog(t, dbURL, n)
	r, stream, nc := newRelay(t, dbURL)

	var (
		mu    sync.Mutex
		order []string // "<ticket> <version>" as published
		count = map[string]int{}
	)
	sub, err := nc.Subscribe(stream.SubjectPrefix+".>", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, m.Subject[len(stream.SubjectPrefix)+1:]+" "+m.Header.Get("version"))
		count[m.Header.Get(jetstream.MsgIDHeader)]++
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // the connection closes at cleanup
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("relay: %v", err)
			}
		}
	}
	defer stop()
	testinfra.Eventually(t, 2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) >= n+1
	}, "not every event was published")
	stop() // nothing more may come: counts are final

	mu.Lock()
	defer mu.Unlock()
	if len(order) != n+1 {
		t.Fatalf("%d publishes, want %d", len(order), n+1)
	}
	for id, c := range count {
		if c != 1 {
			t.Fatalf("event %s published %d times", id, c)
		}
	}
	next := 1
	for i, e := range order {
		if e == other+" 1" {
			// One busy event goes in the same first batch, ahead by id.
			if i > 1 {
				t.Fatalf("the other ticket's event was published after %d of the busy ticket's", i)
			}
			continue
		}
		if e != hot+" "+strconv.Itoa(next) {
			t.Fatalf("publish %d is %q, want %s v%d", i, e, hot, next)
		}
		next++
	}
}

// relayWithStream is newRelay with its stream created, and a session of
// the test's own on the database, closed at cleanup.
func relayWithStream(t *testing.T, dbURL string) (*Relay, ticketevent.StreamOptions, jetstream.JetStream, *pgx.Conn) {
	t.Helper()
	r, stream, nc := newRelay(t, dbURL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateStream(t.Context(), stream.Config()); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return r, stream, js, conn
}

// relayOn is a relay on a NATS server of the test's own, connected as the
// command service connects it (no reconnect buffer, quick pings), with its
// stream created.
func relayOn(t *testing.T, dbURL string, srv *testinfra.NATSServer, publishTimeout time.Duration) (*Relay, ticketevent.StreamOptions, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	opts := append(natsconn.NoLateWrites(), natsconn.Liveness(100*time.Millisecond, 2)...)
	nc, err := natsconn.Connect(srv.URL(), "", "relay-test", slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(publishTimeout),
		jetstream.WithPublishAsyncMaxPending(2*batchSize))
	if err != nil {
		t.Fatal(err)
	}
	name := testinfra.UniqueName(t, "R")
	stream := ticketevent.StreamOptions{Name: name, SubjectPrefix: "test." + name + ".changed", Replicas: 1, MaxAge: time.Hour}
	if _, err := js.CreateOrUpdateStream(t.Context(), stream.Config()); err != nil {
		t.Fatal(err)
	}
	r := New(Config{
		Stream: stream, PollInterval: 100 * time.Millisecond, BatchSize: batchSize,
		PublishTimeout: publishTimeout, Retention: time.Hour, PruneInterval: time.Minute,
		RetryInterval: 100 * time.Millisecond,
	}, dbURL, nc, js, slog.New(slog.DiscardHandler), NewMetrics(prometheus.NewRegistry()))
	return r, stream, nc, js
}

// A publish while NATS is down fails at once and leaves its rows unsent:
// nothing waits in a reconnect buffer to reach the stream later, when
// another relay may have published newer versions meanwhile. After the
// reconnect the relay publishes every row once, each ticket in version
// order.
func TestPublishWhileDisconnectedIsNotBuffered(t *testing.T) {
	t.Parallel()
	dbURL := ticketsdb.New(t)
	hot, other := hotBacklog(t, dbURL, 3)
	srv := testinfra.StartNATSServer(t)
	r, stream, nc, js := relayOn(t, dbURL, srv, 5*time.Second)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	unsent := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	srv.Stop()
	testinfra.Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "the outage went unnoticed")
	batch, _, err := r.next(ctx, conn)
	if err != nil || len(batch) != 4 {
		t.Fatalf("batch of %d, %v", len(batch), err)
	}
	start := time.Now()
	err = r.publish(ctx, conn, batch)
	if !isPublishErr(err) || !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Fatalf("publish while disconnected: %v, want a publish error of nats.ErrReconnectBufExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the failed publish took %v: it waited", d)
	}
	if n := unsent(); n != 4 {
		t.Fatalf("%d rows unsent, want all 4", n)
	}

	srv.Start(t)
	testinfra.Eventually(t, 10*time.Second, nc.IsConnected, "never reconnected")
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	info, err := js.Stream(ctx, stream.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 0 {
		t.Fatalf("%d messages reached the stream from before the reconnect", n)
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	testinfra.Eventually(t, 30*time.Second, func() bool { return unsent() == 0 }, "rows left unsent after the reconnect")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	st, err := js.Stream(ctx, stream.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 4 {
		t.Fatalf("%d messages in the stream, want 4, each once", n)
	}
	var hotVersions []string
	for seq := uint64(1); seq <= 4; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		switch m.Subject {
		case stream.Subject(hot):
			hotVersions = append(hotVersions, m.Header.Get("version"))
		case stream.Subject(other):
		default:
			t.Fatalf("message %d on %s", seq, m.Subject)
		}
	}
	if strings.Join(hotVersions, ",") != "1,2,3" {
		t.Fatalf("the busy ticket's versions in the stream: %v, want 1,2,3", hotVersions)
	}
}

// When a leadership ends with publishes still unacknowledged, the relay
// drops its connection, and those publishes with it, rather than let them
// reach the stream whenever the connection delivers them.
func TestReleaseDropsUnacknowledgedPublishes(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	r, _, nc, _ := relayOn(t, ticketsdb.New(t), srv, 200*time.Millisecond)
	// A subscriber that never answers holds the publish unacknowledged.
	holder, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.SubscribeSync("held.>"); err != nil {
		t.Fatal(err)
	}
	if err := holder.Flush(); err != nil {
		t.Fatal(err)
	}
	long, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r.js = long
	f, err := long.PublishMsgAsync(&nats.Msg{Subject: "held.x", Data: []byte("v5")})
	if err != nil {
		t.Fatal(err)
	}
	before := nc.Stats().Reconnects
	start := time.Now()
	r.release()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("release took %v", d)
	}
	if n := long.PublishAsyncPending(); n != 0 {
		t.Fatalf("%d publishes still pending after release", n)
	}
	select {
	case err := <-f.Err():
		if err == nil {
			t.Fatal("the held publish ended without an error")
		}
	case <-f.Ok():
		t.Fatal("the held publish was acknowledged")
	case <-time.After(5 * time.Second):
		t.Fatal("the held publish never ended")
	}
	testinfra.Eventually(t, 10*time.Second, func() bool { return nc.IsConnected() && nc.Stats().Reconnects > before },
		"the connection was not replaced")

	// Nothing pending, nothing unacknowledged: the connection is kept.
	before = nc.Stats().Reconnects
	r.release()
	if err := nc.Flush(); err != nil || nc.Stats().Reconnects != before {
		t.Fatalf("an idle release reconnected (%v)", err)
	}
}
