package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

func TestGetTicketMissThenHitWithETag(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	tk := h.insert(ticket.Ticket{Title: "Printer on floor 3 is jammed", Description: "Paper tray 2",
		Priority: ticket.PriorityHigh, Assignee: "alice", Reporter: "bob", Tags: []string{"hardware"}})

	first := h.get("/tickets/" + tk.ID)
	mustStatus(t, first, http.StatusOK)
	mustCache(t, first, "MISS")
	if string(first.body) != apiJSON(t, tk) {
		t.Fatalf("body\n%s\nwant\n%s", first.body, apiJSON(t, tk))
	}
	if got := first.header.Get("ETag"); got != `"1"` {
		t.Fatalf("ETag %q", got)
	}
	if ct := first.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	second := h.get("/tickets/" + tk.ID)
	mustStatus(t, second, http.StatusOK)
	mustCache(t, second, "HIT")
	if string(second.body) != string(first.body) || second.header.Get("ETag") != `"1"` {
		t.Fatalf("hit differs: %s %s", second.body, second.header.Get("ETag"))
	}
	// Upper case ids name the same ticket and the same key.
	upper := h.get("/tickets/" + strings.ToUpper(tk.ID))
	mustStatus(t, upper, http.StatusOK)
	mustCache(t, upper, "HIT")
	// HEAD answers like GET without a body (the front door sends HEAD here).
	head := send(t, h.srv, http.MethodHead, "/tickets/"+tk.ID)
	mustStatus(t, head, http.StatusOK)
	if len(head.body) != 0 || head.header.Get("ETag") != `"1"` {
		t.Fatalf("HEAD body %q etag %q", head.body, head.header.Get("ETag"))
	}
}

func TestGetTicketIfNoneMatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	tk := h.insert(ticket.Ticket{Title: "conditional"})
	tk = h.update(tk, "conditional v2") // version 2
	cases := []struct {
		header string
		want   int
	}{
		{`"2"`, http.StatusNotModified},
		{`W/"2"`, http.StatusNotModified},
		{`"1", "2"`, http.StatusNotModified},
		{` "7" ,W/"2" `, http.StatusNotModified},
		{`*`, http.StatusNotModified},
		{`"1"`, http.StatusOK},
		{`2`, http.StatusOK},     // unquoted: not an entity tag
		{`"2`, http.StatusOK},    // unterminated
		{`w/"2"`, http.StatusOK}, // the weak prefix is case-sensitive
		{``, http.StatusOK},
	}
	for _, tc := range cases {
		r := h.get("/tickets/"+tk.ID, "If-None-Match", tc.header)
		if r.status != tc.want {
			t.Errorf("If-None-Match %q: status %d, want %d", tc.header, r.status, tc.want)
		}
		if r.header.Get("ETag") != `"2"` || r.cache() == "" {
			t.Errorf("If-None-Match %q: ETag %q X-Cache %q", tc.header, r.header.Get("ETag"), r.cache())
		}
		if tc.want == http.StatusNotModified && len(r.body) != 0 {
			t.Errorf("304 with a body: %s", r.body)
		}
	}
}

func TestGetTicketNotFoundAndDeleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)

	// Never existed: 404, and not cached (no negative entry).
	unknown := "01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11"
	for range 2 {
		r := h.get("/tickets/"+unknown, "If-None-Match", "*")
		mustStatus(t, r, http.StatusNotFound)
		mustCache(t, r, "MISS")
		if p := r.problem(t); p.Status != http.StatusNotFound || p.Instance != "/tickets/"+unknown {
			t.Fatalf("problem %+v", p)
		}
	}
	if n := h.rdb.Exists(t.Context(), h.keys.Ticket(unknown)).Val(); n != 0 {
		t.Fatal("an unknown id was cached")
	}

	// Deleted: 404 from Postgres, then a tombstone answers 404 from Redis.
	tk := h.insert(ticket.Ticket{Title: "to delete"})
	mustCache(t, h.get("/tickets/"+tk.ID), "MISS")
	version := h.softDelete(tk)
	// The invalidator would refresh the key; without it the old entry serves
	// until dropped, so drop it as the invalidator's DLQ path does.
	if err := h.cache.DeleteTicket(t.Context(), tk.ID); err != nil {
		t.Fatal(err)
	}
	r := h.get("/tickets/" + tk.ID)
	mustStatus(t, r, http.StatusNotFound)
	mustCache(t, r, "MISS")
	r = h.get("/tickets/" + tk.ID)
	mustStatus(t, r, http.StatusNotFound)
	mustCache(t, r, "HIT")
	var stone struct {
		Version int64 `json:"version"`
		Deleted bool  `json:"deleted"`
	}
	raw := h.rdb.Get(t.Context(), h.keys.Ticket(tk.ID)).Val()
	if err := json.Unmarshal([]byte(raw), &stone); err != nil || !stone.Deleted || stone.Version != version {
		t.Fatalf("tombstone %s (%v), want deleted at version %d", raw, err, version)
	}
	// The tombstone fences the older version off.
	if stored, err := h.cache.SetTicket(t.Context(), tk); err != nil || stored {
		t.Fatalf("an older version replaced the tombstone: %v %v", stored, err)
	}
}

func TestGetTicketBadRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	id := h.insert(ticket.Ticket{}).ID
	cases := []struct {
		name, path, field string
	}{
		{"not a uuid", "/tickets/nope", ""},
		{"too short", "/tickets/01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e1", ""},
		{"no hyphens", "/tickets/01936f4e8a1c7c3e9a573f1d2b9c0e11", ""},
		{"braces", "/tickets/%7B01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e%7D", ""},
		{"urn", "/tickets/urn:uuid:01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", ""},
		{"bad hex", "/tickets/01936f4e-8a1c-7c3e-9a57-3f1d2b9c0exx", ""},
		{"sql", "/tickets/1%27%20OR%20%271%27=%271", ""},
		{"unknown parameter", "/tickets/" + id + "?fields=title", "fields"},
		{"malformed query", "/tickets/" + id + "?a=%zz", ""},
	}
	for _, tc := range cases {
		r := h.get(tc.path)
		mustStatus(t, r, http.StatusBadRequest)
		p := r.problem(t)
		if p.Status != http.StatusBadRequest || p.Detail == "" {
			t.Errorf("%s: problem %+v", tc.name, p)
		}
		if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field) {
			t.Errorf("%s: errors %+v, want field %s", tc.name, p.Errors, tc.field)
		}
	}
	// Methods the query service does not serve.
	r := send(t, h.srv, http.MethodPost, "/tickets/"+id)
	mustStatus(t, r, http.StatusMethodNotAllowed)
	r.problem(t)
}

func TestTicketTimestampsAreUTC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.FixedZone("CET", 3600))
	tk := h.insert(ticket.Ticket{CreatedAt: at, UpdatedAt: at.Add(time.Minute)})
	r := h.get("/tickets/" + tk.ID)
	mustStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), `"created_at":"2026-11-26T09:00:00.123456Z"`) {
		t.Fatalf("body %s", r.body)
	}
}
