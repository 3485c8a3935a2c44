package ticketsdb_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
)

func TestNewHasTheTicketsSchema(t *testing.T) {
	t.Parallel()
	conn, err := pgx.Connect(t.Context(), ticketsdb.New(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables
		WHERE table_name IN ('tickets', 'outbox', 'idempotency_keys')`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d of 3 tables (%v)", n, err)
	}
}
