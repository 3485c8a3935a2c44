package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/client"
)

const id = "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"

func ticketJSON(id string, version int) string {
	return fmt.Sprintf(`{"id":%q,"title":"t","description":"","status":"open","priority":"medium","assignee":"",`+
		`"reporter":"r","tags":[],"created_at":"2026-11-26T10:00:00Z","updated_at":"2026-11-26T10:00:00Z","version":%d}`, id, version)
}

// seen is what the server was sent, request by request.
type seen struct {
	mu   sync.Mutex
	reqs []string // "METHOD path?query key=<Idempotency-Key> if=<If-Match> auth=<Authorization> body=<body>"
}

func (s *seen) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, fmt.Sprintf("%s %s key=%s if=%s auth=%s body=%s", r.Method, r.URL.RequestURI(),
		r.Header.Get("Idempotency-Key"), r.Header.Get("If-Match"), r.Header.Get("Authorization"), b))
}

func (s *seen) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reqs...)
}

// server answers each request with the next of answers (status, Retry-After, body).
func server(t *testing.T, answers ...func(w http.ResponseWriter)) (*client.Client, *seen) {
	t.Helper()
	s := &seen{}
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.add(r)
		s.mu.Lock()
		i := n
		n++
		s.mu.Unlock()
		if i >= len(answers) {
			t.Errorf("request %d unexpected: %s %s", i+1, r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		answers[i](w)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, client.WithToken("tok"), client.WithRetries(3, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func answer(status int, retryAfter, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("X-Request-ID", "req-1")
		if status >= 400 {
			w.Header().Set("Content-Type", "application/problem+json")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

const unavailable = `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"the database is unavailable"}`

func TestReadRetriesAfter503(t *testing.T) {
	c, s := server(t, answer(503, "0", unavailable), answer(503, "0", unavailable), answer(200, "", ticketJSON(id, 4)))
	tk, err := c.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Version != 4 || tk.Id.String() != id {
		t.Fatalf("ticket %+v", tk)
	}
	reqs := s.all()
	if len(reqs) != 3 || !strings.Contains(reqs[0], "auth=Bearer tok") {
		t.Fatalf("requests %q, want 3 with the token", reqs)
	}
}

func TestCreateRetriesWithTheSameKeyAndBody(t *testing.T) {
	c, s := server(t, answer(503, "0", unavailable), answer(201, "", ticketJSON(id, 1)))
	if _, err := c.Create(t.Context(), client.TicketCreate{Title: "jam"}); err != nil {
		t.Fatal(err)
	}
	reqs := s.all()
	if len(reqs) != 2 || reqs[0] != reqs[1] || strings.Contains(reqs[0], "key= ") || !strings.Contains(reqs[0], `"title":"jam"`) {
		t.Fatalf("requests %q, want the same create twice, with a key and the body", reqs)
	}
	c2, s2 := server(t, answer(201, "", ticketJSON(id, 1)))
	if _, err := c2.Create(t.Context(), client.TicketCreate{Title: "jam"}, client.WithIdempotencyKey("k-1")); err != nil {
		t.Fatal(err)
	}
	if r := s2.all(); len(r) != 1 || !strings.Contains(r[0], "key=k-1 ") {
		t.Fatalf("requests %q, want the given key", r)
	}
}

func TestUnconditionalWriteIsNotRetried(t *testing.T) {
	c, s := server(t, answer(503, "0", unavailable))
	_, err := c.Update(t.Context(), id, client.TicketUpdate{})
	var e *client.Error
	if !errors.As(err, &e) || e.StatusCode != 503 || e.Detail != "the database is unavailable" || e.RequestID != "req-1" {
		t.Fatalf("error %v, want the 503 problem", err)
	}
	if n := len(s.all()); n != 1 {
		t.Fatalf("%d requests, want 1: a PATCH without If-Match may have been done", n)
	}

	c, s = server(t, answer(503, "0", unavailable), answer(204, "", ""))
	if err := c.Delete(t.Context(), id, client.IfVersion(7)); err != nil {
		t.Fatal(err)
	}
	if r := s.all(); len(r) != 2 || !strings.Contains(r[1], `if="7"`) {
		t.Fatalf("requests %q, want the conditional delete twice", r)
	}
}

func TestRetryAfterBounds(t *testing.T) {
	// Longer than the client waits: the 503 is the answer.
	c, s := server(t, answer(503, "60", unavailable))
	if _, err := c.Get(t.Context(), id); client.StatusCode(err) != 503 || len(s.all()) != 1 {
		t.Fatalf("error %v after %d requests, want the 503 at once", err, len(s.all()))
	}
	// No Retry-After: not retried.
	c, s = server(t, answer(503, "", unavailable))
	if _, err := c.Get(t.Context(), id); client.StatusCode(err) != 503 || len(s.all()) != 1 {
		t.Fatalf("error %v after %d requests", err, len(s.all()))
	}
	// An HTTP date.
	date := time.Now().Add(time.Second).UTC().Format(http.TimeFormat)
	c, s = server(t, answer(503, date, unavailable), answer(200, "", ticketJSON(id, 1)))
	if _, err := c.Get(t.Context(), id); err != nil || len(s.all()) != 2 {
		t.Fatalf("error %v after %d requests, want success on the second", err, len(s.all()))
	}
	// Retries end after the limit.
	c, s = server(t, answer(503, "0", unavailable), answer(503, "0", unavailable), answer(503, "0", unavailable),
		answer(503, "0", unavailable))
	if _, err := c.Get(t.Context(), id); client.StatusCode(err) != 503 || len(s.all()) != 4 {
		t.Fatalf("error %v after %d requests, want 503 after 4", err, len(s.all()))
	}
	// A cancelled context ends the wait.
	c, _ = server(t, answer(503, "1", unavailable))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, id); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's", err)
	}
}

func TestErrorsCarryTheProblem(t *testing.T) {
	c, _ := server(t, answer(422, "", `{"type":"about:blank","title":"Unprocessable Entity","status":422,`+
		`"detail":"invalid fields","errors":[{"field":"title","message":"is required"}]}`))
	_, err := c.Create(t.Context(), client.TicketCreate{})
	if got := fmt.Sprint(err); got != "ticketsys: 422 Unprocessable Entity: invalid fields; title: is required" {
		t.Fatalf("error %q", got)
	}
	if _, err := c.Get(t.Context(), "not-a-uuid"); err == nil || !strings.Contains(err.Error(), "not a UUID") {
		t.Fatalf("error %v", err)
	}
}

func TestListWalksEveryPage(t *testing.T) {
	page := func(next string, ids ...string) func(w http.ResponseWriter) {
		items := make([]string, len(ids))
		for i, x := range ids {
			items[i] = ticketJSON(x, 1)
		}
		cursor := "null"
		if next != "" {
			cursor = fmt.Sprintf("%q", next)
		}
		return answer(200, "", `{"items":[`+strings.Join(items, ",")+`],"next_cursor":`+cursor+`}`)
	}
	ids := []string{
		"01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e01", "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e02",
		"01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e03", "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e04",
	}
	c, s := server(t, page("c1", ids[0], ids[1]), page("c2", ids[2]), page("", ids[3]))
	var got []string
	for tk, err := range c.List(t.Context(), client.ListQuery{Status: client.StatusOpen, PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tk.Id.String())
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Fatalf("listed %v, want %v", got, ids)
	}
	reqs := s.all()
	if len(reqs) != 3 || !strings.Contains(reqs[0], "status=open") || !strings.Contains(reqs[0], "limit=2") ||
		!strings.Contains(reqs[1], "cursor=c1") || !strings.Contains(reqs[2], "cursor=c2") {
		t.Fatalf("requests %q", reqs)
	}

	// Breaking out stops the requests; an error ends the sequence.
	c, s = server(t, page("c1", ids[0], ids[1]), answer(400, "", `{"type":"about:blank","title":"Bad Request","status":400}`))
	for _, err := range c.List(t.Context(), client.ListQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if n := len(s.all()); n != 1 {
		t.Fatalf("%d requests after a break on the first ticket", n)
	}
	var errs []error
	for _, err := range c.List(t.Context(), client.ListQuery{}) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) != 1 || client.StatusCode(errs[0]) != 400 {
		t.Fatalf("errors %v, want the 400 once", errs)
	}
}
