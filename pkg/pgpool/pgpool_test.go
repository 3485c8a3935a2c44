package pgpool

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	for code, want := range map[string]bool{
		"55P03": true,  // lock_not_available: lock_timeout
		"57014": true,  // query_canceled: statement_timeout
		"08006": true,  // connection_failure
		"57P01": true,  // admin_shutdown
		"23505": false, // unique_violation: a bug or a conflict, not an outage
		"42P01": false, // undefined_table
	} {
		err := fmt.Errorf("update ticket: %w", &pgconn.PgError{Code: code})
		if got := Unavailable(err); got != want {
			t.Errorf("SQLSTATE %s: Unavailable = %v, want %v", code, got, want)
		}
	}
	// What pgx returns when the connection drops in the middle of a reply.
	for _, err := range []error{io.ErrUnexpectedEOF, io.EOF, net.ErrClosed} {
		if !Unavailable(fmt.Errorf("update ticket: %w", err)) {
			t.Errorf("%v: not unavailable", err)
		}
	}
	if Unavailable(errors.New("boom")) {
		t.Error("a plain error is unavailable")
	}
}

func TestTimeoutsApply(t *testing.T) {
	params := map[string]string{"lock_timeout": "7"} // from the URL: it wins
	Timeouts{Statement: 5 * time.Second, Lock: time.Second, IdleInTransaction: 0}.Apply(params)
	want := map[string]string{"statement_timeout": "5000", "lock_timeout": "7"}
	if !maps.Equal(params, want) {
		t.Fatalf("params %v, want %v", params, want)
	}
}
