package e2e

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/auth/authtest"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

const cursorSecret = "e2e-cursor-key-that-is-at-least-32-bytes"

// stack is the three services of one test: its own database, stream,
// consumer, DLQ and Redis key prefix, so tests run in parallel.
type stack struct {
	t                testing.TB
	command, query   *process
	invalidator      *process
	pool             *pgxpool.Pool
	rdb              *redis.Client
	cache            *ticketcache.Cache
	js               jetstream.JetStream
	streamName, cons string
	token            string
	keys             authtest.Keys
	client           *http.Client
	// described validates the responses of the command and query services
	// against their OpenAPI descriptions (see checkDescribed).
	described map[*process]*openapitest.Recorder
}

func newStack(t testing.TB) *stack {
	t.Helper()
	return newStackWith(t, nil)
}

// newStackWith starts the stack with extra environment for every process.
func newStackWith(t testing.TB, extra map[string]string) *stack {
	t.Helper()
	return newStackOpts(t, stackOptions{env: extra})
}

// stackOptions change how newStackOpts sets the stack up.
type stackOptions struct {
	env map[string]string // for every process
	// perProcess is environment for one process ("command", "query",
	// "cache-invalidator"), over env.
	perProcess map[string]map[string]string
	// nats is the server the test's own client uses (default: the machine's).
	nats string
	// defaultNames keeps the contract's stream, DLQ and consumer names, for a
	// private NATS server whose permissions name them.
	defaultNames bool
	// db is a migrated database the test made (default: a new one).
	db string
}

func newStackOpts(t testing.TB, o stackOptions) *stack {
	t.Helper()
	dbURL := o.db
	if dbURL == "" {
		dbURL = ticketsdb.New(t)
	}
	natsURL, redisURL := o.nats, testinfra.RedisURL(t)
	if natsURL == "" {
		natsURL = testinfra.NATSURL(t)
	}
	name := testinfra.UniqueName(t, "E2E")
	prefix := name + ":"
	s := &stack{t: t, streamName: name, cons: "cache-invalidator-" + name,
		client: &http.Client{Timeout: 10 * time.Second}, keys: authtest.NewKeys(t)}
	env := map[string]string{
		"DATABASE_URL":          dbURL,
		"NATS_URL":              natsURL,
		"REDIS_URL":             redisURL,
		"STREAM_NAME":           name,
		"STREAM_SUBJECT_PREFIX": "e2e." + name + ".changed",
		"STREAM_MAX_AGE":        "1h",
		"CONSUMER_NAME":         s.cons,
		"DLQ_STREAM_NAME":       name + "_DLQ",
		"DLQ_SUBJECT_PREFIX":    "e2e." + name + ".dlq",
		"CACHE_KEY_PREFIX":      prefix,
		"CURSOR_SECRET":         cursorSecret,
		"LOG_FORMAT":            "text",
		"LOG_LEVEL":             "info", // startProcess reads the address from the "listening" line
		"SHUTDOWN_TIMEOUT":      "5s",
		// The query service fails fast on a slow Redis (100ms) and opens its
		// breaker; on a loaded test machine that would turn reads into BYPASS.
		"REDIS_TIMEOUT": "1s",
		// No read replica here, so nothing for the second list bump to
		// retire; it would only make a HIT the guide's flow expects a MISS
		// when a step takes longer than the delay (the worker tests cover it).
		"LIST_REBUMP_DELAY": "0s",
	}
	if o.defaultNames {
		for _, k := range []string{"STREAM_NAME", "STREAM_SUBJECT_PREFIX", "CONSUMER_NAME", "DLQ_STREAM_NAME", "DLQ_SUBJECT_PREFIX"} {
			delete(env, k)
		}
		s.streamName, s.cons = "TICKETS", "cache-invalidator"
	}
	// The default setup: the services verify with a public key and hold nothing that signs.
	env["AUTH_PUBLIC_KEY_FILE"] = s.keys.PublicFile
	for k, v := range o.env {
		env[k] = v
	}

	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s.pool = pool
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	s.rdb = redis.NewClient(opts)
	s.cache = ticketcache.New(s.rdb, ticketcache.Keys{Prefix: prefix}, time.Minute)
	t.Cleanup(func() { _ = s.rdb.Close() })
	testinfra.CleanRedisPrefix(t, s.rdb, prefix)
	s.js = testinfra.JetStream(t, natsURL)
	// Registered before the processes start, so it runs after they stopped (cleanups run last-in first-out).
	testinfra.DeleteStreamsAtCleanup(t, s.js, s.streamName, s.streamName+"_DLQ")
	s.token = s.keys.Token(t, "e2e", "tickets:read", "tickets:write")

	envOf := func(process string) map[string]string {
		out := maps.Clone(env)
		maps.Copy(out, o.perProcess[process])
		return out
	}
	s.command = startProcess(t, "command", envOf("command"))
	s.query = startProcess(t, "query", envOf("query"))
	s.invalidator = startProcess(t, "cache-invalidator", envOf("cache-invalidator"))
	for _, p := range []*process{s.command, s.query, s.invalidator} {
		p.waitReady(t)
	}
	s.recordDescribed()
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) ticket(t testing.TB) ticket.Ticket {
	t.Helper()
	var tk ticket.Ticket
	if err := json.Unmarshal(r.body, &tk); err != nil {
		t.Fatalf("decode ticket from %s: %v", r.body, err)
	}
	return tk
}

// listPage is the body of GET /tickets.
type listPage struct {
	Items      []ticket.Ticket `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

func (r response) page(t testing.TB) listPage {
	t.Helper()
	var p listPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode list from %s: %v", r.body, err)
	}
	return p
}

func (s *stack) do(base, method, path, body string) (response, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := s.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil {
		// Every answer must match the service's OpenAPI description.
		s.checkDescribed(s.processAt(base), req, res.StatusCode, res.Header, b)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}, err
}

// write sends a request to the command service.
func (s *stack) write(method, path, body string) response {
	s.t.Helper()
	r, err := s.do(s.command.url, method, path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// read sends a GET to the query service.
func (s *stack) read(path string) response {
	s.t.Helper()
	r, err := s.do(s.query.url, http.MethodGet, path, "")
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

func mustStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.body)
	}
}

func (s *stack) create(body string) ticket.Ticket {
	s.t.Helper()
	r := s.write(http.MethodPost, "/tickets", body)
	mustStatus(s.t, r, http.StatusCreated)
	return r.ticket(s.t)
}

// settle waits until every committed change has been relayed and applied:
// no unsent outbox row, nothing pending or unacked on the consumer.
func (s *stack) settle() {
	s.t.Helper()
	ctx := context.Background()
	testinfra.Eventually(s.t, 20*time.Second, func() bool {
		var unsent int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&unsent); err != nil || unsent > 0 {
			return false
		}
		c, err := s.js.Consumer(ctx, s.streamName, s.cons)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, "the events never settled")
}

// backlog is what the pipeline still has to do: outbox rows not yet
// published, and events published but not yet applied and acked.
func (s *stack) backlog() (unsent int, pending uint64) {
	s.t.Helper()
	ctx := context.Background()
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&unsent); err != nil {
		s.t.Fatal(err)
	}
	if c, err := s.js.Consumer(ctx, s.streamName, s.cons); err == nil {
		if info, err := c.Info(ctx); err == nil {
			pending = info.NumPending + uint64(info.NumAckPending)
		}
	}
	return unsent, pending
}
