package service_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// The query service's pool cannot write, even when asked to directly.
func TestPoolIsReadOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil)
	tk := h.insert(ticket.Ticket{Title: "read only"})
	ctx := t.Context()
	for _, sql := range []string{
		`UPDATE tickets SET title = 'hacked' WHERE id = '` + tk.ID + `'`,
		`INSERT INTO tickets (id, title, created_at, updated_at) VALUES (gen_random_uuid(), 'x', now(), now())`,
		`DELETE FROM tickets`,
		`CREATE TABLE evil (id int)`,
	} {
		_, err := h.svc.Pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "25006" { // read_only_sql_transaction
			t.Errorf("%s: err %v, want SQLSTATE 25006", sql, err)
		}
	}
	var title string
	if err := h.db.QueryRow(ctx, `SELECT title FROM tickets WHERE id = $1`, tk.ID).Scan(&title); err != nil || title != "read only" {
		t.Fatalf("title %q %v", title, err)
	}
	// Reads through the same pool work.
	mustStatus(t, h.get("/tickets/"+tk.ID), http.StatusOK)
}

// With Postgres unreachable, what Redis holds is still served; what it does
// not hold is a 503 problem with Retry-After; /readyz says Postgres fails.
func TestPostgresDown(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "")
	h.start(nil, "READ_DATABASE_URL",
		"postgres://postgres@127.0.0.1:"+strconv.Itoa(closedPort(t))+"/tickets?sslmode=disable&connect_timeout=2")
	cached := withDefaults(t, ticket.Ticket{Title: "cached"})
	if _, err := h.cache.SetTicket(t.Context(), cached); err != nil {
		t.Fatal(err)
	}
	r := h.get("/tickets/" + cached.ID)
	mustStatus(t, r, http.StatusOK)
	mustCache(t, r, "HIT")

	for _, path := range []string{"/tickets/01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11", "/tickets"} {
		r = h.get(path)
		mustStatus(t, r, http.StatusServiceUnavailable)
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", path)
		}
		mustCache(t, r, "MISS")
		if p := r.problem(t); p.Status != http.StatusServiceUnavailable || p.Detail == "" {
			t.Errorf("%s: problem %+v", path, p)
		}
	}
	r = h.get("/readyz", "Authorization", "")
	mustStatus(t, r, http.StatusServiceUnavailable)
	if string(r.body) != `{"failing":{"postgres":"unreachable"},"status":"unavailable"}` {
		t.Fatalf("readyz %s", r.body)
	}
	mustStatus(t, h.get("/healthz", "Authorization", ""), http.StatusOK)
	mustStatus(t, h.get("/redis-health", "Authorization", ""), http.StatusOK)
}
