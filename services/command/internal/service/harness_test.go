package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/command/internal/service"
)

const testSecret = "test-secret-that-is-at-least-32-bytes-long"

// stack is one command service (or several on one database) with its own
// database and its own stream, so tests run in parallel.
type stack struct {
	t       testing.TB
	dbURL   string
	natsURL string
	stream  ticketevent.StreamOptions
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	env     map[string]string

	// published counts every publish on the stream's subjects by message
	// id, seen by a plain subscriber: JetStream drops a repeated id inside
	// its duplicate window, so the stored messages alone cannot show a relay
	// that publishes twice.
	mu        sync.Mutex
	published map[string]int
}

func newStack(t testing.TB, natsURL string) *stack {
	t.Helper()
	if natsURL == "" {
		natsURL = testinfra.NATSURL(t)
	}
	name := testinfra.UniqueName(t, "T")
	s := &stack{
		t:       t,
		dbURL:   ticketsdb.New(t),
		natsURL: natsURL,
		stream: ticketevent.StreamOptions{
			Name: name, SubjectPrefix: "test." + name + ".changed", Replicas: 1, MaxAge: time.Hour,
		},
	}
	s.env = map[string]string{
		"DATABASE_URL":          s.dbURL,
		"NATS_URL":              natsURL,
		"STREAM_NAME":           name,
		"STREAM_SUBJECT_PREFIX": s.stream.SubjectPrefix,
		"STREAM_MAX_AGE":        "1h",
		"AUTH_JWT_SECRET":       testSecret,
		"OUTBOX_POLL_INTERVAL":  "200ms",
		"LOG_LEVEL":             "error",
	}
	pool, err := pgxpool.New(context.Background(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s.pool = pool

	js := testinfra.JetStream(t, natsURL, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	s.js = js
	testinfra.DeleteStreamsAtCleanup(t, js, name)
	s.published = map[string]int{}
	sub, err := js.Conn().Subscribe(s.stream.SubjectPrefix+".>", func(m *nats.Msg) {
		s.mu.Lock()
		s.published[m.Header.Get(jetstream.MsgIDHeader)]++
		s.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return s
}

// publishes returns how often each message id was published so far.
func (s *stack) publishes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.published)
}

// instance is one command service, started the way main starts it.
type instance struct {
	URL    string
	client *http.Client
}

func (i *instance) Client() *http.Client { return i.client }

// start runs one command service instance, with its relay unless
// overridden, through the binary's own App; it stops at cleanup and must
// stop cleanly.
func (s *stack) start(overrides ...string) *instance {
	s.t.Helper()
	env := maps.Clone(s.env)
	env["HTTP_ADDR"] = "127.0.0.1:0"
	for i := 0; i+1 < len(overrides); i += 2 {
		env[overrides[i]] = overrides[i+1]
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- service.App.Run(ctx, svcmain.Env{Getenv: func(k string) string { return env[k] },
			Stdout: io.Discard, Ready: func(a string) { addr <- a }})
	}()
	var a string
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		s.t.Fatalf("the command service did not start: %v", err)
	}
	// Every answer is validated against the command service's OpenAPI
	// description (api/openapi/command.yaml) when the test ends.
	transport := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: openapitest.Command(s.t).Recorder(s.t).Transport(transport)}
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("the command service did not stop cleanly: %v", err)
		}
		transport.CloseIdleConnections()
	})
	return &instance{URL: "http://" + a, client: client}
}

func token(t testing.TB, scopes ...string) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"tickets:write"}
	}
	tok, err := auth.Mint([]byte(testSecret), "alice", scopes, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) ticket(t testing.TB) ticket.Ticket {
	t.Helper()
	var tk ticket.Ticket
	if err := json.Unmarshal(r.body, &tk); err != nil {
		t.Fatalf("decode ticket from %s: %v", r.body, err)
	}
	return tk
}

// do sends a request with a write token unless headers set Authorization.
func do(t testing.TB, srv *instance, method, path, body string, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token(t))
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func mustStatus(t testing.TB, r resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
}

func createTicket(t testing.TB, srv *instance, title string) ticket.Ticket {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"title": title})
	r := do(t, srv, http.MethodPost, "/tickets", string(body))
	mustStatus(t, r, http.StatusCreated)
	return r.ticket(t)
}

// streamMsg is one stored message of the test's stream.
type streamMsg struct {
	subject string
	header  nats.Header
	data    []byte
	event   *eventsv1.TicketChanged
}

// messages reads every message currently in the stream, in stream order.
func (s *stack) messages() []streamMsg {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, s.stream.Name)
	if err != nil {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	var out []streamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			s.t.Fatalf("get msg %d: %v", seq, err)
		}
		ev, err := ticketevent.Unmarshal(m.Header.Get("content-type"), m.Data)
		if err != nil {
			s.t.Fatalf("decode msg %d: %v (%s)", seq, err, m.Data)
		}
		out = append(out, streamMsg{subject: m.Subject, header: m.Header, data: m.Data, event: ev})
	}
	return out
}

// quiet is how long the stream and the publishes must stay unchanged
// before a count is final: a relay that publishes again does it within
// its poll interval (200ms here).
const quiet = time.Second

// waitStored waits until the stream holds n messages and nothing more
// arrives for a while, and fails unless it holds exactly n.
func (s *stack) waitStored(n int) []streamMsg {
	s.t.Helper()
	var msgs []streamMsg
	testinfra.Eventually(s.t, 15*time.Second, func() bool {
		msgs = s.messages()
		return len(msgs) >= n
	}, "stream %s never reached %d messages", s.stream.Name, n)
	stable := time.Now()
	lastStored, lastPublished := len(msgs), s.publishCount()
	for time.Since(stable) < quiet {
		time.Sleep(50 * time.Millisecond)
		msgs = s.messages()
		if p := s.publishCount(); len(msgs) != lastStored || p != lastPublished {
			lastStored, lastPublished, stable = len(msgs), p, time.Now()
		}
	}
	if len(msgs) != n {
		s.t.Fatalf("stream holds %d messages, want exactly %d", len(msgs), n)
	}
	return msgs
}

// waitMessages is waitStored, and also proves each stored event was
// published exactly once and nothing else was published.
func (s *stack) waitMessages(n int) []streamMsg {
	s.t.Helper()
	msgs := s.waitStored(n)
	pub := s.publishes()
	for _, m := range msgs {
		if c := pub[m.event.GetEventId()]; c != 1 {
			s.t.Fatalf("event %s (ticket %s v%d) published %d times, want once",
				m.event.GetEventId(), m.event.GetTicketId(), m.event.GetVersion(), c)
		}
	}
	if len(pub) != n {
		s.t.Fatalf("%d distinct messages published, %d stored", len(pub), n)
	}
	return msgs
}

func (s *stack) publishCount() int {
	n := 0
	for _, c := range s.publishes() {
		n += c
	}
	return n
}

func (s *stack) unsent() int {
	s.t.Helper()
	var n int
	if err := s.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

func jsonBody(v any) string {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(v)
	return b.String()
}
