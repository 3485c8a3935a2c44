package worker_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/worker"
)

// harness is one test's world: its own stream, DLQ, consumer name and Redis
// key prefix on the shared servers, so tests run in parallel.
type harness struct {
	t       *testing.T
	natsURL string
	js      jetstream.JetStream
	stream  ticketevent.StreamOptions
	dlq     ticketevent.StreamOptions
	rdb     redis.UniversalClient
	cache   *ticketcache.Cache
	seq     int
}

func newHarness(t *testing.T) *harness {
	return newHarnessOn(t, testinfra.NATSURL(t), testinfra.RedisURL(t), true)
}

// newHarnessOn builds a harness on the given servers; createStream false
// leaves the event stream for the test to create.
func newHarnessOn(t *testing.T, natsURL, redisURL string, createStream bool) *harness {
	t.Helper()
	name := testinfra.UniqueName(t, "CI")
	h := &harness{
		t:       t,
		natsURL: natsURL,
		stream:  ticketevent.StreamOptions{Name: name, SubjectPrefix: "test." + name + ".changed", Replicas: 1, MaxAge: time.Hour},
		dlq:     ticketevent.StreamOptions{Name: name + "_DLQ", SubjectPrefix: "test." + name + ".dlq", Replicas: 1, MaxAge: time.Hour},
	}
	h.js = testinfra.JetStream(t, natsURL, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond))
	testinfra.DeleteStreamsAtCleanup(t, h.js, h.stream.Name, h.dlq.Name)
	if createStream {
		h.createStream()
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1 // fail fast while a test's Redis is down
	h.rdb = redis.NewClient(opts)
	t.Cleanup(func() { _ = h.rdb.Close() })
	prefix := name + ":"
	h.cache = ticketcache.New(h.rdb, ticketcache.Keys{Prefix: prefix}, 10*time.Minute)
	testinfra.CleanRedisPrefix(t, h.rdb, prefix)
	return h
}

func (h *harness) createStream() {
	h.t.Helper()
	if _, err := h.js.CreateStream(context.Background(), h.stream.Config()); err != nil {
		h.t.Fatalf("create stream: %v", err)
	}
}

// config is a worker configuration with quick retries, for tests.
func (h *harness) config() worker.Config {
	return worker.Config{
		Stream:        h.stream,
		Consumer:      "cache-invalidator",
		DLQ:           h.dlq,
		AckWait:       30 * time.Second,
		MaxDeliver:    50,
		MaxAckPending: 64,
		RetryMin:      20 * time.Millisecond,
		RetryMax:      200 * time.Millisecond,
		Concurrency:   8,
		AttachRetry:   50 * time.Millisecond,
		OpTimeout:     2 * time.Second,
		PurgeGrace:    5 * time.Second,
	}
}

// running is a worker started by the test.
type running struct {
	w       *worker.Worker
	m       *worker.Metrics
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// start runs a worker on the harness's Redis; it is stopped at cleanup.
func (h *harness) start(cfg worker.Config) *running {
	return h.startWith(cfg, h.cache)
}

func (h *harness) startWith(cfg worker.Config, cache *ticketcache.Cache) *running {
	return h.startRule(cfg, cache, 0)
}

// startRule runs a worker whose rule bumps lists a second time after
// rebumpDelay (0: never).
func (h *harness) startRule(cfg worker.Config, cache invalidation.Cache, rebumpDelay time.Duration) *running {
	h.t.Helper()
	_, reg := httpx.NewRegistry()
	m, err := worker.NewMetrics(reg)
	if err != nil {
		h.t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("WORKER_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: worker.New(cfg, h.js, invalidation.New(cache, rebumpDelay, log), log, m), m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- r.w.Run(ctx) }()
	h.t.Cleanup(func() { r.stop(h.t) })
	return r
}

// stop cancels the worker and waits for Run to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.stopped {
		return
	}
	r.stopped = true
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("Run did not return 30s after its context was cancelled")
	}
}

func (h *harness) publish(ev *eventsv1.TicketChanged) {
	h.t.Helper()
	body, err := ticketevent.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	msg := nats.NewMsg(h.stream.Subject(ev.GetTicketId()))
	msg.Header = ticketevent.NATSHeader(ticketevent.Headers(ev, "/test"))
	// Tests publish duplicates on purpose; a unique id per copy keeps
	// JetStream from dropping them.
	h.seq++
	msg.Header[jetstream.MsgIDHeader] = []string{ev.GetEventId() + "#" + strconv.Itoa(h.seq)}
	msg.Data = body
	// As the relay publishes: the expectation travels in the stored headers.
	// Retried: a stream just created on a cluster may not answer at once.
	if _, err := h.js.PublishMsg(context.Background(), msg, jetstream.WithExpectStream(h.stream.Name),
		jetstream.WithRetryAttempts(20), jetstream.WithRetryWait(100*time.Millisecond)); err != nil {
		h.t.Fatalf("publish: %v", err)
	}
}

func (h *harness) publishRaw(subject, contentType string, body []byte) {
	h.t.Helper()
	msg := nats.NewMsg(subject)
	if contentType != "" {
		msg.Header[ticketevent.HeaderContentType] = []string{contentType}
	}
	msg.Data = body
	if _, err := h.js.PublishMsg(context.Background(), msg); err != nil {
		h.t.Fatalf("publish: %v", err)
	}
}

// entry reads ticket:{id} through the key scheme.
func (h *harness) entry(id string) (ticketcache.Entry, bool) {
	h.t.Helper()
	e, found, err := h.cache.GetTicket(context.Background(), id)
	if err != nil {
		h.t.Fatalf("get ticket: %v", err)
	}
	return e, found
}

// waitVersion waits until ticket:{id} holds version v (deleted or not).
func (h *harness) waitVersion(id string, v int64, deleted bool) ticketcache.Entry {
	h.t.Helper()
	var e ticketcache.Entry
	testinfra.Eventually(h.t, 20*time.Second, func() bool {
		var found bool
		e, found = h.entry(id)
		return found && e.Version == v && e.Deleted == deleted
	}, "ticket:%s never reached version %d (deleted=%v); last %+v", id, v, deleted, &e)
	return e
}

func (h *harness) gen(status, assignee string) int64 {
	h.t.Helper()
	g, err := h.cache.Generation(context.Background(), ticketcache.ListQuery{Status: status, Assignee: assignee})
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

// waitDrained waits until the consumer has nothing pending or unacked.
func (h *harness) waitDrained(consumer string) {
	h.t.Helper()
	testinfra.Eventually(h.t, 20*time.Second, func() bool {
		c, err := h.js.Consumer(context.Background(), h.stream.Name, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, "consumer %s never drained", consumer)
}

// dlqMessages reads every message in the DLQ stream.
func (h *harness) dlqMessages() []*jetstream.RawStreamMsg {
	h.t.Helper()
	ctx := context.Background()
	st, err := h.js.Stream(ctx, h.dlq.Name)
	if err != nil {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return nil
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			h.t.Fatalf("dlq msg %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}
