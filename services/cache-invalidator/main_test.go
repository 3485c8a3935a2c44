package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/service"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// run is main without the process, as the tests drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, ready func(string)) error {
	return service.App.Run(ctx, svcmain.Env{Args: args, Getenv: getenv, Stdout: stdout, Ready: ready})
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, key, value string
	}{
		{"bad redis url", "REDIS_URL", "http://nope"},
		{"bad cluster flag", "REDIS_CLUSTER", "maybe"},
		{"zero ttl", "CACHE_TTL_SECONDS", "0"},
		{"ttl not a number", "CACHE_TTL_SECONDS", "ten"},
		{"glob in key prefix", "CACHE_KEY_PREFIX", "a*"},
		{"bad stream name", "STREAM_NAME", "a.b"},
		{"wildcard subject prefix", "STREAM_SUBJECT_PREFIX", "tickets.>"},
		{"bad consumer name", "CONSUMER_NAME", "cache invalidator"},
		{"dlq same as stream", "DLQ_STREAM_NAME", "TICKETS"},
		{"bad dlq prefix", "DLQ_SUBJECT_PREFIX", "tickets.changed"},
		{"ack wait too short", "ACK_WAIT", "10ms"},
		{"unbounded redelivery", "MAX_DELIVER", "-1"},
		{"max ack pending", "MAX_ACK_PENDING", "0"},
		{"backoff", "RETRY_BACKOFF_MIN", "0s"},
		{"backoff max below min", "RETRY_BACKOFF_MAX", "1ms"},
		{"concurrency", "WORKER_CONCURRENCY", "0"},
		{"concurrency above max ack pending", "WORKER_CONCURRENCY", "1000"},
		{"shutdown timeout", "SHUTDOWN_TIMEOUT", "soon"},
		{"dlq replicas", "DLQ_REPLICAS", "9"},
		{"dlq max age", "DLQ_MAX_AGE", "0s"},
		{"dlq max msgs", "DLQ_MAX_MSGS", "0"},
		{"dlq max bytes", "DLQ_MAX_BYTES", "1000"},
		{"dlq max bytes not a number", "DLQ_MAX_BYTES", "256MiB"},
		{"bad log level", "LOG_LEVEL", "loud"},
		{"bad log format", "LOG_FORMAT", "xml"},
		{"heartbeat above half the pull expiry", "PULL_HEARTBEAT", "3s"},
		{"pull expiry below 1s", "PULL_EXPIRY", "500ms"},
		{"negative replica wait", "REDIS_WAIT_REPLICAS", "-1"},
		{"loss check too often", "REDIS_LOSS_CHECK_INTERVAL", "1ms"},
		{"replay window shorter than a fill", "LOSS_REPLAY_WINDOW", "2s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := run(t.Context(), nil, envOf(map[string]string{tc.key: tc.value}), &bytes.Buffer{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.key) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line naming %s", err, tc.key)
			}
		})
	}
	if err := run(t.Context(), []string{"explode"}, envOf(nil), &bytes.Buffer{}, nil); err == nil {
		t.Fatal("unknown subcommand accepted")
	}
}

// run waits for its stream (not ready meanwhile), applies events, serves
// the ops endpoints, and stops when its context ends.
func TestRunServesOpsAndAppliesEvents(t *testing.T) {
	t.Parallel()
	name := testinfra.UniqueName(t, "MAIN")
	stream := ticketevent.StreamOptions{Name: name, SubjectPrefix: "test." + name + ".changed", Replicas: 1, MaxAge: time.Hour}
	env := map[string]string{
		"HTTP_ADDR": "127.0.0.1:0", "NATS_URL": testinfra.NATSURL(t), "REDIS_URL": testinfra.RedisURL(t),
		"CACHE_KEY_PREFIX": name + ":", "STREAM_NAME": name, "STREAM_SUBJECT_PREFIX": stream.SubjectPrefix,
		"DLQ_STREAM_NAME": name + "_DLQ", "DLQ_SUBJECT_PREFIX": "test." + name + ".dlq", "LOG_FORMAT": "text",
	}
	js := testinfra.JetStream(t, env["NATS_URL"])
	testinfra.DeleteStreamsAtCleanup(t, js, name, name+"_DLQ")
	opts, err := redis.ParseURL(env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	testinfra.CleanRedisPrefix(t, rdb, name+":")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs testinfra.SyncBuffer
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, envOf(env), &logs, func(a string) { addrCh <- a }) }()
	base := "http://" + <-addrCh
	get := func(path string) (int, string) {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "consumer") {
		t.Fatalf("readyz before the stream exists: %d %s", code, body)
	}
	if _, err := js.CreateStream(ctx, stream.Config()); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 10*time.Second, func() bool { c, _ := get("/readyz"); return c == http.StatusOK },
		"never ready after the stream appeared")

	now := time.Now().UTC()
	tk := ticket.Ticket{ID: testinfra.UniqueName(t, "tk"), Title: "main", Status: "open", Priority: "low",
		Tags: []string{}, Version: 1, CreatedAt: now, UpdatedAt: now}
	ev := ticketevent.New(ticketevent.Meta{EventID: testinfra.UniqueName(t, "ev"), OccurredAt: now},
		ticketevent.Created, nil, &tk, 1)
	data, _ := ticketevent.Marshal(ev)
	msg := nats.NewMsg(stream.Subject(tk.ID))
	msg.Header = ticketevent.NATSHeader(ticketevent.Headers(ev, "/test"))
	msg.Data = data
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	testinfra.Eventually(t, 10*time.Second, func() bool {
		b, err := rdb.Get(ctx, name+":ticket:"+tk.ID).Bytes()
		var got ticket.Ticket
		return err == nil && json.Unmarshal(b, &got) == nil && got.Title == "main"
	}, "the event never reached Redis")

	// The ack and its metrics follow the Redis write; a scrape may come
	// between the counter and the histogram of one event, so all are awaited.
	wants := []string{
		`ticketsys_cache_events_processed_total{change="created",outcome="applied"} 1`,
		"ticketsys_cache_write_to_fresh_seconds_count 1", `ticketsys_cache_event_processing_seconds_count{outcome="applied"} 1`,
		"ticketsys_cache_event_redeliveries_total 0", "ticketsys_cache_dlq_purges_pending 0",
	}
	var metrics string
	testinfra.Eventually(t, 10*time.Second, func() bool {
		_, metrics = get("/metrics")
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				return false
			}
		}
		return true
	}, "the event's metrics never all showed: want %q", wants)
	testinfra.LintMetrics(t, base+"/metrics")
	info, err := js.Consumer(ctx, name, "cache-invalidator")
	if err != nil {
		t.Fatalf("durable consumer: %v", err)
	}
	cfg := info.CachedInfo().Config
	if cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.MaxDeliver != 10 || cfg.AckWait != 30*time.Second ||
		cfg.MaxAckPending != 256 || cfg.FilterSubject != stream.SubjectPrefix+".>" {
		t.Fatalf("consumer config %+v", cfg)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(logs.String(), "cache-invalidator stopped") {
		t.Fatalf("no stop line in the log:\n%s", logs.String())
	}
}
