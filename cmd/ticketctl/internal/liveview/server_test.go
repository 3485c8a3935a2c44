package liveview

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

const wait = 10 * time.Second

// sseStream collects what a GET /events answers, line by line, while the test goes on.
type sseStream struct {
	mu     sync.Mutex
	text   strings.Builder
	resp   *http.Response
	cancel context.CancelFunc
	done   chan struct{}
}

func openStream(t *testing.T, url string, header http.Header) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by close(), at the latest in the cleanup
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	s := &sseStream{resp: resp, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			s.mu.Lock()
			s.text.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String()
}

func (s *sseStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
	<-s.done
}

func (s *sseStream) waitFor(t *testing.T, want string) {
	t.Helper()
	testinfra.Eventually(t, wait, func() bool { return strings.Contains(s.String(), want) },
		"%q never appeared on the stream: %q", want, s)
}

func startServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	srv := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { srv.Run(ctx); close(ran) }()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		cancel()
		<-ran
		ts.Close()
	})
	return srv, ts
}

func TestPageAndHealth(t *testing.T) {
	t.Parallel()
	_, ts := startServer(t, Config{})
	tests := []struct {
		path, ctype, body string
		status            int
	}{
		{"/", "text/html", `<table id="events">`, 200},
		{"/static/app.js", "javascript", "new EventSource(", 200},
		{"/static/style.css", "text/css", "@keyframes flash", 200},
		{"/healthz", "application/json", `{"status":"ok"}`, 200},
		{"/static/nope.js", "text/plain", "404", 404},
		{"/nope", "text/plain", "404", 404},
	}
	for _, tt := range tests {
		resp, err := http.Get(ts.URL + tt.path)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if got := resp.Header.Get("Content-Type"); !strings.Contains(got, tt.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %q in it", tt.path, got, tt.ctype)
		}
		if !strings.Contains(string(body), tt.body) {
			t.Errorf("GET %s: body lacks %q:\n%s", tt.path, tt.body, body)
		}
		if got, want := resp.Header.Get("Content-Security-Policy"), "default-src 'self'; frame-ancestors 'none'"; got != want {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q", tt.path, got, want)
		}
	}
	resp, err := http.Post(ts.URL+"/events", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /events: status %d, want %d", resp.StatusCode, http.StatusMethodNotAllowed)
	}

	// The page must not depend on anything outside this server: the network may be closed.
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	for _, p := range []string{"index.html", "app.js", "style.css"} {
		b, err := staticFiles.ReadFile("static/" + p)
		if err != nil {
			t.Fatal(err)
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to another server: %q", p, m)
		}
	}
}

func TestEventsStreamStatsEventsAndDisconnect(t *testing.T) {
	t.Parallel()
	var calls sync.Mutex
	natsErr := error(nil)
	srv, ts := startServer(t, Config{
		Interval:  20 * time.Millisecond,
		Heartbeat: 20 * time.Millisecond,
		NATS: func(context.Context) (NATSStats, error) {
			calls.Lock()
			defer calls.Unlock()
			return NATSStats{Consumer: ConsumerStats{Name: "cache-invalidator", Exists: true, Pending: 7}}, natsErr
		},
	})
	srv.Publish(Event{Seq: 41, Ticket: "before-open", Change: "CREATED", Version: 1})

	s := openStream(t, ts.URL+"/events", http.Header{"Last-Event-ID": {"40"}})
	if got, want := s.resp.Header.Get("Content-Type"), "text/event-stream"; got != want {
		t.Errorf("Content-Type %q, want %q", got, want)
	}
	if got, want := s.resp.Header.Get("Cache-Control"), "no-cache"; got != want {
		t.Errorf("Cache-Control %q, want %q", got, want)
	}
	s.waitFor(t, "retry: 2000\n")
	s.waitFor(t, "id: 41\nevent: ticket\ndata: {\"seq\":41,")
	s.waitFor(t, `"ticket":"before-open"`)
	s.waitFor(t, `"fields":[]`)
	s.waitFor(t, "event: stats\ndata: ")
	s.waitFor(t, `"consumer":{"name":"cache-invalidator","exists":true,"pending":7,`)
	s.waitFor(t, `"reason":"no --query-metrics URL"`)
	s.waitFor(t, ": heartbeat\n")

	srv.Publish(Event{Seq: 42, Ticket: "live-one", Change: "UPDATED", Version: 2, Fields: []string{"title"}})
	s.waitFor(t, `"ticket":"live-one","change":"UPDATED","version":2,"fields":["title"]`)
	testinfra.Eventually(t, wait, func() bool { return strings.Contains(s.String(), `"events_total":2`) },
		"events_total counts both events: %q", s)

	calls.Lock()
	natsErr = errors.New("nats: timeout")
	calls.Unlock()
	s.waitFor(t, `"nats_error":"nats: timeout"`)

	srv.Notice("seq %d skipped", 9)
	s.waitFor(t, "event: notice\ndata: {\"message\":\"seq 9 skipped\"}")

	// Seen again after Last-Event-ID 41: only the later one comes back.
	again := openStream(t, ts.URL+"/events", http.Header{"Last-Event-ID": {"41"}})
	again.waitFor(t, "live-one")
	if strings.Contains(again.String(), "before-open") {
		t.Errorf("the event up to Last-Event-ID 41 was sent again: %q", again.String())
	}

	testinfra.Eventually(t, wait, func() bool { return srv.Clients() == 2 }, "two browsers connected")
	s.close()
	again.close()
	testinfra.Eventually(t, wait, func() bool { return srv.Clients() == 0 }, "a closed browser is unsubscribed")
}

// A browser that cannot keep up is told how many frames it lost, in the stream itself.
func TestEventsStreamLaggingNotice(t *testing.T) {
	t.Parallel()
	srv := New(Config{Buffer: 1, Keep: 1})
	c, _ := srv.hub.subscribe(0)
	for i := uint64(1); i <= 3; i++ {
		srv.Publish(Event{Seq: i, Ticket: "t"})
	}
	srv.hub.unsubscribe(c)
	if n := c.takeDropped(); n != 2 {
		t.Errorf("%d frames dropped, want 2", n)
	}

	// Through HTTP: the handler tells the browser before the next frame it sends.
	srv = New(Config{Heartbeat: time.Hour})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	s := openStream(t, ts.URL+"/events", nil)
	s.waitFor(t, "retry: ")
	testinfra.Eventually(t, wait, func() bool { return srv.Clients() == 1 }, "subscribed")
	srv.hub.mu.Lock()
	for c := range srv.hub.clients {
		c.dropped.Add(3) // as if three frames had not fitted in its buffer
	}
	srv.hub.mu.Unlock()
	srv.Publish(Event{Seq: 4, Ticket: "after-the-gap"})
	s.waitFor(t, "event: lagging\ndata: {\"dropped\":3}\n\nid: 4\nevent: ticket\n")
}

func TestRunEndClosesStreams(t *testing.T) {
	t.Parallel()
	srv := New(Config{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { srv.Run(ctx); close(ran) }()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	s := openStream(t, ts.URL+"/events", nil)
	s.waitFor(t, "retry: ")
	cancel()
	<-ran
	select {
	case <-s.done:
	case <-time.After(wait):
		t.Fatal("the stream stayed open after Run ended")
	}
	if n := srv.Clients(); n != 0 {
		t.Errorf("%d clients after Run ended, want 0", n)
	}
}

func TestOnlyDirectHostsAreServed(t *testing.T) {
	t.Parallel()
	h := New(Config{}).Handler()
	for host, want := range map[string]int{
		"127.0.0.1:8090":    http.StatusOK,
		"localhost:8090":    http.StatusOK,
		"[::1]:8090":        http.StatusOK,
		"10.1.2.3":          http.StatusOK,
		"evil.example:8090": http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io":  http.StatusMisdirectedRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: status %d, want %d", host, rec.Code, want)
		}
	}
}
