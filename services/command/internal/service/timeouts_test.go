package service_test

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// A write that waits for a row lock held elsewhere gives up after
// DB_LOCK_TIMEOUT with 503 and Retry-After, instead of holding the request
// (and a pooled connection) for as long as the other transaction lives.
func TestWriteBehindHeldLockAnswers503(t *testing.T) {
	t.Parallel()
	s := newStack(t, "")
	// A statement timeout far above the bound below: only the lock timeout
	// can end the wait in time.
	srv := s.start("DB_LOCK_TIMEOUT", "200ms", "DB_STATEMENT_TIMEOUT", "2m")
	tk := createTicket(t, srv, "locked")

	ctx := t.Context()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // after Rollback it is a no-op
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE`, tk.ID); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	r := do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"title":"blocked"}`)
	mustStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if d := time.Since(start); d > time.Minute {
		t.Fatalf("the write waited %s for the lock", d)
	}

	// The lock gone, the same write succeeds: the failed one left nothing
	// behind on its pooled connection.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	r = do(t, srv, http.MethodPatch, "/tickets/"+tk.ID, `{"title":"free"}`)
	mustStatus(t, r, http.StatusOK)
	if got := r.ticket(t); got.Title != "free" || got.Version != 2 {
		t.Fatalf("ticket %+v, want title free at version 2", got)
	}
}
