package ticketapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
	"github.com/ticketsys/ticketsys/services/command/internal/ticketapi"
)

const secret = openapitest.Secret

// newEngine wires the routes as the service does (internal/service): the
// shared engine, the probes and metrics, then ticketapi.Routes.
func newEngine(t *testing.T, store app.Store) *gin.Engine {
	t.Helper()
	e, v, log := openapitest.OpsEngine(t)
	ticketapi.Routes(e, app.New(store, "/test"), v, log, httpx.Limit(8, time.Second))
	return e
}

// Neither the routes nor the description has a path or method the other lacks.
func TestRoutesMatchTheDescription(t *testing.T) {
	t.Parallel()
	openapitest.Command(t).CheckRoutes(t, newEngine(t, newFakeStore()).Routes())
}

// GET /openapi.yaml serves command.yaml as it is, without a token.
func TestServesItsDescription(t *testing.T) {
	t.Parallel()
	e := newEngine(t, newFakeStore())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil)
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !bytes.Equal(rec.Body.Bytes(), openapi.Command()) {
		t.Error("GET /openapi.yaml is not api/openapi/command.yaml")
	}
	openapitest.Command(t).Check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
}

// Every status of the contract's error table that the command service
// answers, and every success, through the real routes and middleware, each
// answer validated against command.yaml.
func TestAnswersMatchTheDescription(t *testing.T) {
	t.Parallel()
	store := newFakeStore()
	e := newEngine(t, store)
	v := openapitest.Command(t)
	write, err := auth.Mint([]byte(secret), "alice", []string{"tickets:write"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	read, err := auth.Mint([]byte(secret), "bob", []string{"tickets:read"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, path, body string, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, path, rd)
		req.Header.Set("Authorization", "Bearer "+write)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			if headers[i+1] == "" {
				req.Header.Del(headers[i])
			} else {
				req.Header.Set(headers[i], headers[i+1])
			}
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		v.Check(t, req, rec.Code, rec.Header(), rec.Body.Bytes())
		return rec
	}
	must := func(what string, rec *httptest.ResponseRecorder, want int) {
		t.Helper()
		if rec.Code != want {
			t.Fatalf("%s: %d, want %d: %s", what, rec.Code, want, rec.Body)
		}
	}

	created := send("POST", "/tickets", `{"title":"Printer on floor 3 is jammed","tags":["hw"]}`, "Idempotency-Key", "k1")
	must("create", created, http.StatusCreated)
	loc := created.Header().Get("Location")
	must("replay", send("POST", "/tickets", `{"title":"Printer on floor 3 is jammed","tags":["hw"]}`, "Idempotency-Key", "k1"),
		http.StatusCreated)
	must("key reused", send("POST", "/tickets", `{"title":"another"}`, "Idempotency-Key", "k1"), http.StatusUnprocessableEntity)
	must("bad key", send("POST", "/tickets", `{"title":"x"}`, "Idempotency-Key", "a b"), http.StatusBadRequest)
	must("patch", send("PATCH", loc, `{"status":"in_progress","assignee":null}`), http.StatusOK)
	must("put, no change", send("PUT", loc, `{"status":"in_progress"}`), http.StatusOK)
	must("stale If-Match", send("PATCH", loc, `{"title":"y"}`, "If-Match", `"1"`), http.StatusPreconditionFailed)
	must("malformed", send("POST", "/tickets", `{"title":`), http.StatusBadRequest)
	must("not an object", send("POST", "/tickets", `null`), http.StatusBadRequest)
	must("bad id", send("DELETE", "/tickets/42", ""), http.StatusBadRequest)
	must("no token", send("POST", "/tickets", `{"title":"x"}`, "Authorization", ""), http.StatusUnauthorized)
	must("bad token", send("POST", "/tickets", `{"title":"x"}`, "Authorization", "Bearer x.y.z"), http.StatusUnauthorized)
	must("read token", send("DELETE", loc, "", "Authorization", "Bearer "+read), http.StatusForbidden)
	must("too large", send("POST", "/tickets", `{"title":"`+strings.Repeat("x", 1<<20)+`"}`), http.StatusRequestEntityTooLarge)
	must("text", send("POST", "/tickets", `{"title":"x"}`, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	must("validation", send("POST", "/tickets", `{"title":"","priority":"whenever","colour":"red"}`), http.StatusUnprocessableEntity)
	must("empty patch", send("PATCH", loc, `{}`), http.StatusUnprocessableEntity)
	must("delete", send("DELETE", loc, "", "If-Match", `"2"`), http.StatusNoContent)
	must("deleted", send("PATCH", loc, `{"title":"z"}`), http.StatusNotFound)
	must("unknown path", send("GET", "/nope", ""), http.StatusNotFound)
	must("wrong method", send("GET", "/tickets", ""), http.StatusMethodNotAllowed)

	store.block(app.ErrIdempotencyInFlight)
	must("in flight", send("POST", "/tickets", `{"title":"x"}`, "Idempotency-Key", "k2"), http.StatusConflict)
	store.block(ticket.ErrUnavailable)
	must("postgres down", send("POST", "/tickets", `{"title":"x"}`), http.StatusServiceUnavailable)
	store.block(io.ErrUnexpectedEOF)
	must("a bug", send("POST", "/tickets", `{"title":"x"}`), http.StatusInternalServerError)
	store.block(nil)

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		must(path, send("GET", path, "", "Authorization", ""), http.StatusOK)
	}
}

// fakeStore keeps tickets in memory, with the transactions' outcomes the
// use cases rely on; block makes every call fail with an error.
type fakeStore struct {
	mu      sync.Mutex
	tickets map[string]ticket.Ticket
	keys    map[string]idem
	err     error
}

type idem struct {
	hash []byte
	id   string
}

func newFakeStore() *fakeStore {
	return &fakeStore{tickets: map[string]ticket.Ticket{}, keys: map[string]idem{}}
}

func (s *fakeStore) block(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *fakeStore) Create(_ context.Context, t ticket.Ticket, _ app.OutboxRecord, key *app.Idempotency) (*ticket.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if key != nil {
		k := key.Subject + "\x00" + key.Key
		if prev, ok := s.keys[k]; ok {
			if !bytes.Equal(prev.hash, key.RequestHash) {
				return nil, app.ErrIdempotencyMismatch
			}
			first := s.tickets[prev.id]
			return &first, nil
		}
		s.keys[k] = idem{hash: key.RequestHash, id: t.ID}
	}
	s.tickets[t.ID] = t
	return nil, nil
}

func (s *fakeStore) Update(_ context.Context, id string, fn app.UpdateFunc) (ticket.Ticket, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.tickets[id]
	switch {
	case s.err != nil:
		return ticket.Ticket{}, s.err
	case !ok:
		return ticket.Ticket{}, ticket.ErrNotFound
	}
	next, _, err := fn(cur.Clone())
	if err != nil {
		return ticket.Ticket{}, err
	}
	s.tickets[id] = next
	return next, nil
}

func (s *fakeStore) Delete(_ context.Context, id string, fn func(cur ticket.Ticket) (app.OutboxRecord, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.tickets[id]
	switch {
	case s.err != nil:
		return s.err
	case !ok:
		return ticket.ErrNotFound
	}
	if _, err := fn(cur.Clone()); err != nil {
		return err
	}
	delete(s.tickets, id)
	return nil
}
