package e2e

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
)

// The compose stack's Postgres logins (deploy/postgres/init-logins.sh) are enough for the services
// and no more: the command service writes as tickets_writer, the query service reads as
// tickets_reader, and neither can do the other's job or change the schema.
func TestComposeDatabaseLogins(t *testing.T) {
	t.Parallel()
	dbURL := ticketsdb.New(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ToLower(testinfra.UniqueName(t, ""))
	cmdUser, queryUser := "cmd"+suffix, "qry"+suffix
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "../../deploy/postgres/init-logins.sh")
	run := func() {
		t.Helper()
		c := exec.Command(script)
		c.Env = append(os.Environ(), "PGHOST="+u.Hostname(), "PGPORT="+u.Port(),
			"POSTGRES_USER="+u.User.Username(), "POSTGRES_DB="+strings.TrimPrefix(u.Path, "/"),
			"COMMAND_DB_USER="+cmdUser, "QUERY_DB_USER="+queryUser,
			"COMMAND_DB_PASSWORD=pw-command", "QUERY_DB_PASSWORD=pw-query")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("init-logins.sh: %v\n%s", err, out)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dbURL)
		if err == nil {
			_, _ = c.Exec(context.Background(), `DROP OWNED BY `+cmdUser+`, `+queryUser)
			_, _ = c.Exec(context.Background(), `DROP ROLE IF EXISTS `+cmdUser+`, `+queryUser)
			_ = c.Close(context.Background())
		}
	})
	run()
	run() // idempotent: a second run changes nothing and fails on nothing

	as := func(user, pw string) string {
		v := *u
		v.User = url.UserPassword(user, pw)
		return v.String()
	}
	s := newStackOpts(t, stackOptions{db: dbURL, perProcess: map[string]map[string]string{
		"command": {"DATABASE_URL": as(cmdUser, "pw-command")},
		"query":   {"READ_DATABASE_URL": as(queryUser, "pw-query"), "DATABASE_URL": as(queryUser, "pw-query")},
	}})
	tk := s.create(`{"title":"least privilege logins"}`)
	mustStatus(t, s.read("/tickets/"+tk.ID), http.StatusOK)
	mustStatus(t, s.write(http.MethodDelete, "/tickets/"+tk.ID, ""), http.StatusNoContent)
	s.settle()
	mustStatus(t, s.read("/tickets/"+tk.ID), http.StatusNotFound)

	for user, stmts := range map[string][]string{
		queryUser: {`INSERT INTO tickets (id, title) VALUES (gen_random_uuid(), 'x')`, `UPDATE tickets SET title = 'x'`,
			`SELECT count(*) FROM outbox`, `SELECT count(*) FROM idempotency_keys`},
		cmdUser: {`TRUNCATE tickets`, `DROP TABLE outbox`, `ALTER TABLE tickets ADD COLUMN x int`, `CREATE TABLE evil (x int)`},
	} {
		c, err := pgx.Connect(context.Background(), as(user, "unused-with-trust"))
		if err != nil {
			t.Fatal(err)
		}
		for _, stmt := range stmts {
			// 42501 insufficient_privilege: "permission denied" or "must be owner".
			var pgErr *pgconn.PgError
			if _, err := c.Exec(context.Background(), stmt); !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("%s may run %q (%v)", user, stmt, err)
			}
		}
		_ = c.Close(context.Background())
	}
}
