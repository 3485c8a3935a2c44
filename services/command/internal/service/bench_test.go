package service_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkCreateTicket is a full POST /tickets: auth, validation, the
// transaction with the ticket, its outbox row and the NOTIFY, the response.
// Compare it with BenchmarkCreateBaselineInsert, measured in the same run:
// the ratio is what the API and the outbox add to the bare row insert.
func BenchmarkCreateTicket(b *testing.B) {
	s := newStack(b, "")
	srv := s.start("OUTBOX_RELAY_ENABLED", "false")
	body := `{"title":"bench","description":"a ticket created by a benchmark","tags":["bench"]}`
	for i := 0; b.Loop(); i++ {
		r := do(b, srv, http.MethodPost, "/tickets", body)
		if r.status != http.StatusCreated {
			b.Fatalf("status %d", r.status)
		}
	}
}

// BenchmarkCreateBaselineInsert is the floor: one INSERT of the same row
// through the same driver, no HTTP, no outbox.
func BenchmarkCreateBaselineInsert(b *testing.B) {
	s := newStack(b, "")
	ctx := b.Context()
	now := time.Now().UTC()
	for i := 0; b.Loop(); i++ {
		_, err := s.pool.Exec(ctx, `INSERT INTO tickets (id, title, description, tags, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)`, uuid.Must(uuid.NewV7()), fmt.Sprintf("bench %d", i),
			"a ticket created by a benchmark", []string{"bench"}, now)
		if err != nil {
			b.Fatal(err)
		}
	}
}
