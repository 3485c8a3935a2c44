package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// statsFrame is the part of a stats frame these tests read.
type statsFrame struct {
	Stream struct {
		LastSeq uint64 `json:"last_seq"`
	} `json:"stream"`
	Consumer struct {
		Exists  bool   `json:"exists"`
		Pending uint64 `json:"pending"`
	} `json:"consumer"`
	DLQ   struct{ Exists bool } `json:"dlq"`
	Cache struct {
		Interval *float64 `json:"interval_ratio"`
		Overall  *float64 `json:"overall_ratio"`
		Reason   string   `json:"reason"`
	} `json:"cache"`
	EventsTotal uint64 `json:"events_total"`
}

func lastStats(t *testing.T, r *sseReader) (statsFrame, bool) {
	t.Helper()
	lines := r.dataLines("stats")
	if len(lines) == 0 {
		return statsFrame{}, false
	}
	var st statsFrame
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &st))
	return st, true
}

func TestUIStreamsEventsAndStatsOverSSE(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	s.createDurable()
	before := newID()
	s.publish(event(before, ticketevent.Created, 1)) // before ui starts: DeliverNew leaves it out
	r, base := startUI(t, s, "--query-metrics", fakeQueryMetrics(t))

	resp, err := http.Get(base + "healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	sse := readSSE(t, base+"events")
	assert.Equal(t, "text/event-stream", sse.resp.Header.Get("Content-Type"))
	id := newID()
	published := event(id, ticketevent.Updated, 2, "status", "assignee")
	seq := s.publish(published)

	testinfra.Eventually(t, 15*time.Second, func() bool {
		for _, d := range sse.dataLines("ticket") {
			if strings.Contains(d, `"ticket":"`+id+`"`) {
				return true
			}
		}
		return false
	}, "the event of %s never reached the stream: %q", id, &sse.buf)
	var ev map[string]any
	require.NoError(t, json.Unmarshal([]byte(sse.dataLines("ticket")[0]), &ev))
	assert.InDelta(t, float64(seq), ev["seq"], 0)
	assert.Equal(t, published.GetEventId(), ev["event_id"])
	assert.Equal(t, "UPDATED", ev["change"])
	assert.InDelta(t, 2, ev["version"], 0)
	assert.Equal(t, []any{"status", "assignee"}, ev["fields"])
	assert.Equal(t, "alice", ev["actor"])
	assert.Equal(t, "2026-11-26T10:05:00.654Z", ev["time"])
	assert.Contains(t, ev["line"], id+" UPDATED v2 fields=status,assignee actor=alice")
	assert.Contains(t, sse.buf.String(), "id: "+jsonNumber(seq)+"\n", "the sequence is the SSE id")
	assert.NotContains(t, sse.buf.String(), before)

	// Stats: both events wait for the durable consumer; the hit ratio comes from the metrics.
	testinfra.Eventually(t, 15*time.Second, func() bool {
		st, ok := lastStats(t, sse)
		return ok && st.Consumer.Pending == 2 && st.Cache.Interval != nil && st.EventsTotal == 1
	}, "no stats frame with pending 2 and a hit ratio: %q", &sse.buf)
	st, _ := lastStats(t, sse)
	assert.True(t, st.Consumer.Exists)
	assert.Equal(t, seq, st.Stream.LastSeq)
	assert.False(t, st.DLQ.Exists)
	assert.InDelta(t, 0.9, *st.Cache.Interval, 1e-9)
	require.NotNil(t, st.Cache.Overall)

	// A browser that leaves is let go; Ctrl-C ends ui with 0 and removes its consumer.
	sse.close()
	r.cancel()
	assert.Equal(t, exitOK, r.wait(t), r.stderr.String())
	stream, err := s.js.Stream(t.Context(), s.name)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, info.State.Consumers, "only the durable consumer is left")
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Without a consumer and without metrics the page still works and says what is missing.
func TestUIShowsAbsentConsumerAndNoMetrics(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	metrics := "http://" + closed.Addr().String() + "/metrics"
	require.NoError(t, closed.Close())
	_, base := startUI(t, s, "--query-metrics", metrics)

	sse := readSSE(t, base+"events")
	testinfra.Eventually(t, 15*time.Second, func() bool {
		_, ok := lastStats(t, sse)
		return ok
	}, "no stats frame: %q", &sse.buf)
	st, _ := lastStats(t, sse)
	assert.False(t, st.Consumer.Exists)
	assert.Nil(t, st.Cache.Interval)
	assert.Nil(t, st.Cache.Overall)
	assert.Contains(t, st.Cache.Reason, "unreachable")

	// The page itself.
	resp, err := http.Get(base)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `<script src="static/app.js"`)
}

func TestUIFailsClearly(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = busy.Close() })
	nowhere := map[string]string{"NATS_URL": "nats://127.0.0.1:1"}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		msg  string
	}{
		{"bad addr", nowhere, []string{"ui", "--addr", "8090"}, exitUsage, `--addr "8090": want host:port`},
		{"bad metrics URL", nowhere, []string{"ui", "--query-metrics", "localhost:8082"}, exitUsage, "--query-metrics"},
		{"bad consumer", nowhere, []string{"ui", "--consumer", "a.b"}, exitUsage, "--consumer"},
		{"bad stream", nowhere, []string{"ui", "--stream", "A B"}, exitUsage, "--stream"},
		{"stray argument", nowhere, []string{"ui", "now"}, exitUsage, "unknown command"},
		{"NATS unreachable", nowhere, []string{"ui"}, exitRuntime, "cannot reach NATS at nats://127.0.0.1:1"},
		{"no such stream", s.env(), []string{"ui", "--stream", "NOPE_" + s.name}, exitRuntime, "stream NOPE_" + s.name + " not found"},
		{"port taken", s.env(), s.args("ui", "--addr", busy.Addr().String()), exitRuntime, "cannot listen on " + busy.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.vars, tt.args...)
			assert.Equal(t, tt.code, code, "stdout=%q stderr=%q", out, errOut)
			assert.Contains(t, errOut, tt.msg)
			assert.Empty(t, out)
		})
	}
}

func TestUIHelp(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "ui", "--help")
	require.Equal(t, exitOK, code, errOut)
	for _, w := range []string{"Examples:", "--addr", "127.0.0.1:8090", "--stream", "--subject-prefix", "--consumer",
		"cache-invalidator", "--query-metrics", "http://127.0.0.1:8082/metrics", "--open", "server-sent events"} {
		assert.Contains(t, out, w)
	}
	code, out, _ = runCLI(t, nil, "--help")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "ui ")
}
