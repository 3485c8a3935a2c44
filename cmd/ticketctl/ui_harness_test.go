package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

var pageURLRe = regexp.MustCompile(`on (http://127\.0\.0\.1:\d+/) `)

// startUI runs `ticketctl ui` on a free loopback port against the test's streams and
// returns the page's URL once it is served (the ordered consumer exists by then).
func startUI(t *testing.T, s *streams, extra ...string) (*bgRun, string) {
	t.Helper()
	args := append([]string{"ui", "--addr", "127.0.0.1:0"}, extra...)
	r := startCLI(t, s.env(), s.args(args...)...)
	var url string
	testinfra.Eventually(t, 15*time.Second, func() bool {
		m := pageURLRe.FindStringSubmatch(r.stdout.String())
		if m != nil {
			url = m[1]
		}
		return url != ""
	}, "ui printed no URL; stdout=%q stderr=%q", &r.stdout, &r.stderr)
	return r, url
}

// createDurable makes the invalidator's durable consumer on the test's stream, without
// anyone reading from it: every event published afterwards stays pending.
func (s *streams) createDurable() {
	s.t.Helper()
	_, err := s.js.CreateOrUpdateConsumer(s.t.Context(), s.name, jetstream.ConsumerConfig{
		Durable: ticketevent.DefaultConsumer, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: s.prefix + ".>",
	})
	if err != nil {
		s.t.Fatalf("create the durable consumer %s: %v", ticketevent.DefaultConsumer, err)
	}
}

// fakeQueryMetrics stands in for the query service's /metrics: every scrape has served 9
// more hits and 1 more miss, so the ratio over the last interval is 90%.
func fakeQueryMetrics(t *testing.T) string {
	t.Helper()
	var scrapes atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := scrapes.Add(1)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE ticketsys_cache_requests_total counter\n"+
			"ticketsys_cache_requests_total{kind=\"ticket\",result=\"hit\"} %d\n"+
			"ticketsys_cache_requests_total{kind=\"ticket\",result=\"miss\"} %d\n"+
			"ticketsys_cache_requests_total{kind=\"list\",result=\"bypass\"} 0\n", 9*n, n)
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/metrics"
}

// sseReader collects what GET /events sends while the test goes on.
type sseReader struct {
	buf    testinfra.SyncBuffer
	resp   *http.Response
	cancel context.CancelFunc
	done   chan struct{}
}

func readSSE(t *testing.T, url string) *sseReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by close(), at the latest in the cleanup
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	r := &sseReader{resp: resp, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = r.buf.Write([]byte(sc.Text() + "\n"))
		}
	}()
	var once sync.Once
	t.Cleanup(func() { once.Do(r.close) })
	return r
}

func (r *sseReader) close() {
	r.cancel()
	_ = r.resp.Body.Close()
	<-r.done
}

// dataLines are the data: lines of the frames of one SSE event type seen so far.
func (r *sseReader) dataLines(event string) []string {
	var out []string
	frames := strings.Split(r.buf.String(), "\n\n")
	for _, f := range frames {
		if !strings.Contains(f, "event: "+event+"\n") {
			continue
		}
		for _, line := range strings.Split(f, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				out = append(out, d)
			}
		}
	}
	return out
}
