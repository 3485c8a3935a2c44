package relay

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

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

// A batch holds the oldest unsent row of each ticket, however many rows one
// ticket has waiting ahead of the others.
func TestBatchHoldsOldestRowOfEachTicket(t *testing.T) {
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
	if len(batch) != 2 || batch[0].ticketID != hot || batch[0].headers["version"] != "1" || batch[1].ticketID != other {
		got := make([]string, len(batch))
		for i, x := range batch {
			got[i] = x.ticketID + " v" + x.headers["version"]
		}
		t.Fatalf("batch %v, want %s v1 then %s v1", got, hot, other)
	}
	if !more {
		t.Fatal("more is false with 1,999 rows unsent")
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
