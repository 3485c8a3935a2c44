package main

import (
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

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
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &st); err != nil {
		t.Fatalf("decode stats frame %s: %v", lines[len(lines)-1], err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: status %d, want %d", resp.StatusCode, http.StatusOK)
	}

	sse := readSSE(t, base+"events")
	if got, want := sse.resp.Header.Get("Content-Type"), "text/event-stream"; got != want {
		t.Errorf("GET /events: Content-Type %q, want %q", got, want)
	}
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
	if err := json.Unmarshal([]byte(sse.dataLines("ticket")[0]), &ev); err != nil {
		t.Fatalf("decode ticket frame %s: %v", sse.dataLines("ticket")[0], err)
	}
	if got, ok := ev["seq"].(float64); !ok || got != float64(seq) {
		t.Errorf("seq = %v, want %d", ev["seq"], seq)
	}
	for field, want := range map[string]any{
		"event_id": published.GetEventId(),
		"change":   "UPDATED",
		"fields":   []any{"status", "assignee"},
		"actor":    "alice",
		"time":     "2026-11-26T10:05:00.654Z",
	} {
		if got := ev[field]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", field, got, want)
		}
	}
	if got, ok := ev["version"].(float64); !ok || got != 2 {
		t.Errorf("version = %v, want 2", ev["version"])
	}
	if line, ok := ev["line"].(string); !ok || !strings.Contains(line, id+" UPDATED v2 fields=status,assignee actor=alice") {
		t.Errorf("line = %#v, want it to contain %q", ev["line"], id+" UPDATED v2 fields=status,assignee actor=alice")
	}
	if want := "id: " + jsonNumber(seq) + "\n"; !strings.Contains(sse.buf.String(), want) {
		t.Errorf("the sequence is not the SSE id: no %q in %q", want, sse.buf.String())
	}
	if strings.Contains(sse.buf.String(), before) {
		t.Errorf("the event published before ui started (%s) was sent: %q", before, sse.buf.String())
	}

	// Stats: both events wait for the durable consumer; the hit ratio comes from the metrics.
	testinfra.Eventually(t, 15*time.Second, func() bool {
		st, ok := lastStats(t, sse)
		return ok && st.Consumer.Pending == 2 && st.Cache.Interval != nil && st.EventsTotal == 1
	}, "no stats frame with pending 2 and a hit ratio: %q", &sse.buf)
	st, _ := lastStats(t, sse)
	if !st.Consumer.Exists {
		t.Error("stats say the durable consumer does not exist")
	}
	if st.Stream.LastSeq != seq {
		t.Errorf("stream last_seq = %d, want %d", st.Stream.LastSeq, seq)
	}
	if st.DLQ.Exists {
		t.Error("stats say the DLQ exists, want it absent")
	}
	if got := *st.Cache.Interval; math.Abs(got-0.9) > 1e-9 {
		t.Errorf("interval hit ratio = %v, want 0.9", got)
	}
	if st.Cache.Overall == nil {
		t.Fatal("no overall hit ratio in the stats frame")
	}

	// A browser that leaves is let go; Ctrl-C ends ui with 0 and removes its consumer.
	sse.close()
	r.cancel()
	if code := r.wait(t); code != exitOK {
		t.Errorf("exit code %d, want %d; stderr=%s", code, exitOK, r.stderr.String())
	}
	stream, err := s.js.Stream(t.Context(), s.name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 1 {
		t.Errorf("%d consumers on the stream, want 1: only the durable consumer is left", info.State.Consumers)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	metrics := "http://" + closed.Addr().String() + "/metrics"
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	_, base := startUI(t, s, "--query-metrics", metrics)

	sse := readSSE(t, base+"events")
	testinfra.Eventually(t, 15*time.Second, func() bool {
		_, ok := lastStats(t, sse)
		return ok
	}, "no stats frame: %q", &sse.buf)
	st, _ := lastStats(t, sse)
	if st.Consumer.Exists {
		t.Error("stats say the consumer exists, want it absent")
	}
	if st.Cache.Interval != nil {
		t.Errorf("interval hit ratio = %v, want none", *st.Cache.Interval)
	}
	if st.Cache.Overall != nil {
		t.Errorf("overall hit ratio = %v, want none", *st.Cache.Overall)
	}
	if !strings.Contains(st.Cache.Reason, "unreachable") {
		t.Errorf("cache reason = %q, want it to say unreachable", st.Cache.Reason)
	}

	// The page itself.
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /: status %d, want %d", resp.StatusCode, http.StatusOK)
	}
	if want := `<script src="static/app.js"`; !strings.Contains(string(body), want) {
		t.Errorf("page lacks %q:\n%s", want, body)
	}
}

func TestUIFailsClearly(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stdout=%q stderr=%q", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tt.msg)
			}
			if out != "" {
				t.Errorf("stdout = %q, want empty", out)
			}
		})
	}
}

func TestUIHelp(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "ui", "--help")
	if code != exitOK {
		t.Fatalf("ui --help: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	for _, w := range []string{"Examples:", "--addr", "127.0.0.1:8090", "--stream", "--subject-prefix", "--consumer",
		"cache-invalidator", "--query-metrics", "http://127.0.0.1:8082/metrics", "--open", "server-sent events"} {
		if !strings.Contains(out, w) {
			t.Errorf("ui --help lacks %q:\n%s", w, out)
		}
	}
	code, out, errOut = runCLI(t, nil, "--help")
	if code != exitOK {
		t.Fatalf("--help: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if !strings.Contains(out, "ui ") {
		t.Errorf("--help does not list ui:\n%s", out)
	}
}
