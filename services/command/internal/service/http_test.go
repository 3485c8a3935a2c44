package service_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/auth"
)

func TestCreateUpdateDelete(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()

	r := do(t, srv, http.MethodPost, "/tickets",
		`{"title":"  Printer on floor 3 is jammed ","description":"Paper tray 2","priority":"high","assignee":"bob","tags":["hardware"]}`,
		"X-Request-ID", "req-create-1")
	mustStatus(t, r, http.StatusCreated)
	tk := r.ticket(t)
	id, err := uuid.Parse(tk.ID)
	if err != nil || id.Version() != 7 {
		t.Fatalf("id %q is not a UUID v7", tk.ID)
	}
	if got := r.header.Get("Location"); got != "/tickets/"+tk.ID {
		t.Fatalf("Location %q", got)
	}
	if r.header.Get("ETag") != `"1"` || tk.Version != 1 {
		t.Fatalf("ETag %q version %d", r.header.Get("ETag"), tk.Version)
	}
	if r.header.Get("X-Request-ID") != "req-create-1" {
		t.Fatalf("X-Request-ID %q", r.header.Get("X-Request-ID"))
	}
	if tk.Title != "Printer on floor 3 is jammed" || tk.Status != "open" || tk.Priority != "high" ||
		tk.Reporter != "alice" || tk.Assignee != "bob" || len(tk.Tags) != 1 || !tk.CreatedAt.Equal(tk.UpdatedAt) {
		t.Fatalf("unexpected ticket %+v", tk)
	}

	r = do(t, srv, http.MethodPut, "/tickets/"+tk.ID, `{"title":"Updated title"}`)
	mustStatus(t, r, http.StatusOK)
	up := r.ticket(t)
	if up.Title != "Updated title" || up.Version != 2 || r.header.Get("ETag") != `"2"` || !up.UpdatedAt.After(tk.UpdatedAt) {
		t.Fatalf("after PUT: %+v etag %s", up, r.header.Get("ETag"))
	}
	if up.Description != "Paper tray 2" || up.Priority != "high" {
		t.Fatalf("PUT changed fields it did not name: %+v", up)
	}

	r = do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"status":"in_progress","assignee":null,"tags":[]}`)
	mustStatus(t, r, http.StatusOK)
	up = r.ticket(t)
	if up.Status != "in_progress" || up.Assignee != "" || len(up.Tags) != 0 || up.Version != 3 {
		t.Fatalf("after PATCH: %+v", up)
	}

	// The same values again: 200, no new version, no event.
	r = do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"status":"in_progress","title":"Updated title"}`)
	mustStatus(t, r, http.StatusOK)
	if r.ticket(t).Version != 3 || r.header.Get("ETag") != `"3"` {
		t.Fatalf("no-op write made a version: %s", r.body)
	}

	mustStatus(t, do(t, srv, http.MethodDelete, "/tickets/"+tk.ID, ""), http.StatusNoContent)
	mustStatus(t, do(t, srv, http.MethodDelete, "/tickets/"+tk.ID, ""), http.StatusNotFound)
	mustStatus(t, do(t, srv, http.MethodPut, "/tickets/"+tk.ID, `{"title":"back"}`), http.StatusNotFound)

	msgs := s.waitMessages(4)
	wantChange := []string{"CREATED", "UPDATED", "UPDATED", "DELETED"}
	for i, m := range msgs {
		if m.event.GetChange().String() != wantChange[i] || m.event.GetVersion() != int64(i+1) {
			t.Fatalf("event %d: change %s version %d", i, m.event.GetChange(), m.event.GetVersion())
		}
	}
	if msgs[0].event.GetCorrelationId() != "req-create-1" || msgs[0].event.GetActor() != "alice" {
		t.Fatalf("create event meta: %v", msgs[0].event)
	}
	if got := strings.Join(msgs[1].event.GetChangedFields(), ","); got != "title" {
		t.Fatalf("changed_fields %q", got)
	}
	if msgs[3].event.GetTicket() != nil || msgs[3].event.GetPrevious().GetVersion() != 3 {
		t.Fatalf("delete event: %v", msgs[3].event)
	}
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	tk := createTicket(t, srv, "etag")

	mustStatus(t, do(t, srv, http.MethodPut, "/tickets/"+tk.ID, `{"title":"v2"}`, "If-Match", `"1"`), http.StatusOK)
	r := do(t, srv, http.MethodPut, "/tickets/"+tk.ID, `{"title":"stale"}`, "If-Match", `"1"`)
	mustStatus(t, r, http.StatusPreconditionFailed)
	mustStatus(t, do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"title":"x"}`, "If-Match", `W/"2"`), http.StatusPreconditionFailed)
	mustStatus(t, do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"title":"x"}`, "If-Match", `garbage`), http.StatusPreconditionFailed)
	mustStatus(t, do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"title":"v3"}`, "If-Match", `"7", "2"`), http.StatusOK)
	mustStatus(t, do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"title":"v4"}`, "If-Match", `*`), http.StatusOK)
	mustStatus(t, do(t, srv, http.MethodDelete, "/tickets/"+tk.ID, "", "If-Match", `"3"`), http.StatusPreconditionFailed)
	mustStatus(t, do(t, srv, http.MethodDelete, "/tickets/"+tk.ID, "", "If-Match", `"4"`), http.StatusNoContent)
	s.waitMessages(5)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	body := `{"title":"once"}`

	first := do(t, srv, http.MethodPost, "/tickets", body, "Idempotency-Key", "k-1")
	mustStatus(t, first, http.StatusCreated)
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first response says replayed")
	}
	again := do(t, srv, http.MethodPost, "/tickets", `{ "title": "once" }`, "Idempotency-Key", "k-1")
	mustStatus(t, again, http.StatusCreated)
	if again.header.Get("Idempotent-Replayed") != "true" || string(again.body) != string(first.body) ||
		again.header.Get("Location") != first.header.Get("Location") || again.header.Get("ETag") != `"1"` {
		t.Fatalf("replay differs: %s %v", again.body, again.header)
	}
	r := do(t, srv, http.MethodPost, "/tickets", `{"title":"another"}`, "Idempotency-Key", "k-1")
	mustStatus(t, r, http.StatusUnprocessableEntity)
	mustStatus(t, do(t, srv, http.MethodPost, "/tickets", body, "Idempotency-Key", "bad key with spaces"), http.StatusBadRequest)

	// Keys belong to the caller: another subject with the same key creates its own ticket.
	other, err := auth.Mint([]byte(testSecret), "carol", []string{"tickets:write"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	r = do(t, srv, http.MethodPost, "/tickets", body, "Idempotency-Key", "k-1", "Authorization", "Bearer "+other)
	mustStatus(t, r, http.StatusCreated)
	if r.ticket(t).ID == first.ticket(t).ID {
		t.Fatal("another caller's key replayed alice's response")
	}

	// An expired key is forgotten: the request runs again.
	if _, err := s.pool.Exec(t.Context(), `UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	r = do(t, srv, http.MethodPost, "/tickets", body, "Idempotency-Key", "k-1")
	mustStatus(t, r, http.StatusCreated)
	if r.header.Get("Idempotent-Replayed") != "" || r.ticket(t).ID == first.ticket(t).ID {
		t.Fatal("expired key was replayed")
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM tickets`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("tickets %d (%v), want 3", n, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	tk := createTicket(t, srv, "target")
	path := "/tickets/" + tk.ID

	long := func(n int) string { return strings.Repeat("x", n) }
	tags := make([]string, 21)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field                    string
	}{
		{"malformed json", "POST", "/tickets", `{"title":`, nil, 400, ""},
		{"two objects", "POST", "/tickets", `{"title":"a"}{"title":"b"}`, nil, 400, ""},
		{"array body", "POST", "/tickets", `[1]`, nil, 400, ""},
		{"empty body", "POST", "/tickets", ``, []string{"Content-Type", "application/json"}, 400, ""},
		{"bad uuid", "PUT", "/tickets/not-a-uuid", `{"title":"a"}`, nil, 400, ""},
		{"bad uuid delete", "DELETE", "/tickets/123", ``, nil, 400, ""},
		{"unknown ticket", "PATCH", "/tickets/" + uuid.NewString(), `{"title":"a"}`, nil, 404, ""},
		{"unknown field", "POST", "/tickets", `{"title":"a","severity":"x"}`, nil, 422, "severity"},
		{"wrong type", "POST", "/tickets", `{"title":5}`, nil, 422, "title"},
		{"missing title", "POST", "/tickets", `{"description":"d"}`, nil, 422, "title"},
		{"blank title", "POST", "/tickets", `{"title":"   "}`, nil, 422, "title"},
		{"blank title on update", "PATCH", path, `{"title":" "}`, nil, 422, "title"},
		{"null title", "PATCH", path, `{"title":null}`, nil, 422, "title"},
		{"long title", "POST", "/tickets", jsonBody(map[string]any{"title": long(201)}), nil, 422, "title"},
		{"long description", "POST", "/tickets", jsonBody(map[string]any{"title": "a", "description": long(10001)}), nil, 422, "description"},
		{"long assignee", "POST", "/tickets", jsonBody(map[string]any{"title": "a", "assignee": long(101)}), nil, 422, "assignee"},
		{"bad status", "POST", "/tickets", `{"title":"a","status":"done"}`, nil, 422, "status"},
		{"bad priority", "PATCH", path, `{"priority":"asap"}`, nil, 422, "priority"},
		{"too many tags", "POST", "/tickets", jsonBody(map[string]any{"title": "a", "tags": tags}), nil, 422, "tags"},
		{"empty tag", "POST", "/tickets", `{"title":"a","tags":[""]}`, nil, 422, "tags[0]"},
		{"long tag", "POST", "/tickets", jsonBody(map[string]any{"title": "a", "tags": []string{long(51)}}), nil, 422, "tags[0]"},
		{"duplicate tag", "POST", "/tickets", `{"title":"a","tags":["x","x"]}`, nil, 422, "tags[1]"},
		{"not json", "POST", "/tickets", `title=a`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, ""},
		{"no content type", "POST", "/tickets", `{"title":"a"}`, []string{"Content-Type", ""}, 415, ""},
		{"too large", "POST", "/tickets", `{"title":"a","description":"` + long(1<<20) + `"}`, nil, 413, ""},
		{"unknown route", "GET", "/nope", ``, nil, 404, ""},
		{"wrong method", "GET", "/tickets", ``, nil, 405, ""},
	}
	// The group returns only when its parallel subtests have finished, so the
	// check after it sees what they did.
	t.Run("requests", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := do(t, srv, tc.method, tc.path, tc.body, tc.headers...)
				mustStatus(t, r, tc.status)
				assertProblem(t, r, tc.status, tc.field)
			})
		}
	})
	// None of the bad requests changed anything: one ticket at version 1,
	// one event.
	var n, v int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*), max(version) FROM tickets`).Scan(&n, &v); err != nil || n != 1 || v != 1 {
		t.Fatalf("%d tickets, highest version %d (%v): a bad request wrote", n, v, err)
	}
	s.waitMessages(1)
}

func assertProblem(t *testing.T, r resp, status int, field string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q; body %s", ct, r.body)
	}
	var p struct {
		Type, Title, Detail, Instance string
		Status                        int
		Errors                        []struct{ Field, Message string }
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != status || p.Title == "" || p.Type == "" || p.Instance == "" {
		t.Fatalf("problem %+v", p)
	}
	if r.header.Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID on an error")
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field && e.Message != "" {
			return
		}
	}
	t.Fatalf("no error for field %q in %s", field, r.body)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start()
	now := time.Now()
	sign := func(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := jwt.MapClaims{"sub": "eve", "scope": "tickets:write", "exp": now.Add(time.Hour).Unix()}
	cases := []struct {
		name   string
		auth   string
		status int
	}{
		{"no token", "", 401},
		{"not bearer", "Basic YWxpY2U6cHc=", 401},
		{"garbage", "Bearer not.a.jwt", 401},
		{"bad signature", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another-secret-that-is-32-bytes-long!!"), valid), 401},
		{"alg none", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), 401},
		{"hs512", "Bearer " + sign(jwt.SigningMethodHS512, []byte(testSecret), valid), 401},
		{"expired", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret),
			jwt.MapClaims{"sub": "eve", "scope": "tickets:write", "exp": now.Add(-time.Hour).Unix()}), 401},
		{"no exp", "Bearer " + sign(jwt.SigningMethodHS256, []byte(testSecret),
			jwt.MapClaims{"sub": "eve", "scope": "tickets:write"}), 401},
		{"read scope only", "Bearer " + token(t, "tickets:read"), 403},
	}
	t.Run("requests", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := do(t, srv, http.MethodPost, "/tickets", `{"title":"a"}`, "Authorization", tc.auth)
				mustStatus(t, r, tc.status)
				assertProblem(t, r, tc.status, "")
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
			})
		}
	})
	// Health, readiness and metrics need no token.
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		r := do(t, srv, http.MethodGet, p, "", "Authorization", "")
		mustStatus(t, r, http.StatusOK)
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM tickets`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rejected requests wrote %d tickets (%v)", n, err)
	}
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rejected requests wrote %d events (%v)", n, err)
	}
}
