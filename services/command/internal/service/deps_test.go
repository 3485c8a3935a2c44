package service_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// With Postgres unreachable a write cannot be served: 503 with Retry-After,
// and /readyz names postgres; /healthz still says the process is alive.
func TestPostgresDownAnswers503(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	srv := s.start("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1",
		"OUTBOX_RELAY_ENABLED", "false")

	r := do(t, srv, http.MethodPost, "/tickets", `{"title":"lost?"}`)
	mustStatus(t, r, http.StatusServiceUnavailable)
	assertProblem(t, r, http.StatusServiceUnavailable, "")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if strings.Contains(string(r.body), "127.0.0.1:1") || strings.Contains(string(r.body), "dial") {
		t.Fatalf("driver detail leaked: %s", r.body)
	}

	r = do(t, srv, http.MethodGet, "/readyz", "")
	mustStatus(t, r, http.StatusServiceUnavailable)
	var body struct {
		Status  string            `json:"status"`
		Failing map[string]string `json:"failing"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Failing["postgres"] == "" {
		t.Fatalf("readyz %s (%v)", r.body, err)
	}
	mustStatus(t, do(t, srv, http.MethodGet, "/healthz", ""), http.StatusOK)
}

// The command service works as a login user that only has the migrations'
// tickets_writer role, which cannot delete tickets or change the schema.
func TestRunsAsLeastPrivilegeWriter(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	role := strings.ToLower(testinfra.UniqueName(t, "writer"))
	admin, err := pgx.Connect(t.Context(), s.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(t.Context())
	if _, err := admin.Exec(t.Context(), fmt.Sprintf(`CREATE ROLE %s LOGIN IN ROLE tickets_writer`, role)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(t.Context(), testinfra.PostgresURL(t))
		if err == nil {
			_, _ = c.Exec(t.Context(), `DROP ROLE IF EXISTS `+role)
			c.Close(t.Context())
		}
	})
	u, _ := url.Parse(s.dbURL)
	u.User = url.User(role)

	srv := s.start("DATABASE_URL", u.String())
	tk := createTicket(t, srv, "least privilege")
	mustStatus(t, do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"status":"closed"}`), http.StatusOK)
	mustStatus(t, do(t, srv, http.MethodDelete, "/tickets/"+tk.ID, ""), http.StatusNoContent)
	mustStatus(t, do(t, srv, http.MethodPost, "/tickets", `{"title":"idem"}`, "Idempotency-Key", "k"), http.StatusCreated)
	s.waitMessages(4) // the relay, as the same user, publishes and marks rows

	writer, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(t.Context())
	for _, stmt := range []string{
		`DELETE FROM tickets`,
		`TRUNCATE outbox`,
		`DROP TABLE idempotency_keys`,
		`ALTER TABLE tickets ADD COLUMN x int`,
	} {
		if _, err := writer.Exec(t.Context(), stmt); err == nil {
			t.Errorf("tickets_writer may run %q", stmt)
		}
	}
}
