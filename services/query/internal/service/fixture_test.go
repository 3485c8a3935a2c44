package service_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// The command service is another module, so tests write rows the way it
// does, with SQL: these helpers are the fixture.

// insert stores t; missing fields get the defaults the command service
// would give (id UUIDv7, version 1, open, medium, now).
func (h *harness) insert(t ticket.Ticket) ticket.Ticket {
	h.t.Helper()
	t = withDefaults(h.t, t)
	if err := insertRow(context.Background(), h, t); err != nil {
		h.t.Fatalf("insert ticket: %v", err)
	}
	return t
}

func withDefaults(tb testing.TB, t ticket.Ticket) ticket.Ticket {
	tb.Helper()
	if t.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			tb.Fatal(err)
		}
		t.ID = id.String()
	}
	if t.Title == "" {
		t.Title = "ticket " + t.ID[len(t.ID)-6:]
	}
	if t.Status == "" {
		t.Status = ticket.StatusOpen
	}
	if t.Priority == "" {
		t.Priority = ticket.PriorityMedium
	}
	if t.Tags == nil {
		t.Tags = []string{}
	}
	if t.Version == 0 {
		t.Version = 1
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now()
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	t.CreatedAt, t.UpdatedAt = ticket.Timestamp(t.CreatedAt), ticket.Timestamp(t.UpdatedAt)
	return t
}

// insertRow is insert for goroutines other than the test's.
func insertRow(ctx context.Context, h *harness, t ticket.Ticket) error {
	_, err := h.db.Exec(ctx, `INSERT INTO tickets (id, title, description, status, priority,
		assignee, reporter, tags, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		t.ID, t.Title, t.Description, t.Status, t.Priority, t.Assignee, t.Reporter, t.Tags,
		t.Version, t.CreatedAt, t.UpdatedAt)
	return err
}

// update changes the title as a write would: next version, new updated_at.
func (h *harness) update(t ticket.Ticket, title string) ticket.Ticket {
	h.t.Helper()
	t = t.Clone()
	t.Title, t.Version = title, t.Version+1
	t.UpdatedAt = ticket.Timestamp(time.Now())
	if _, err := h.db.Exec(context.Background(),
		`UPDATE tickets SET title = $2, version = $3, updated_at = $4 WHERE id = $1`,
		t.ID, t.Title, t.Version, t.UpdatedAt); err != nil {
		h.t.Fatalf("update ticket: %v", err)
	}
	return t
}

// softDelete deletes as the command service does: the row stays with the
// next version. It returns that version.
func (h *harness) softDelete(t ticket.Ticket) int64 {
	h.t.Helper()
	if _, err := h.db.Exec(context.Background(),
		`UPDATE tickets SET deleted_at = now(), updated_at = now(), version = $2 WHERE id = $1`,
		t.ID, t.Version+1); err != nil {
		h.t.Fatalf("delete ticket: %v", err)
	}
	return t.Version + 1
}

func apiJSON(tb testing.TB, t ticket.Ticket) string {
	tb.Helper()
	b, err := json.Marshal(t)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// listBody is a decoded list response.
type listBody struct {
	Items      []ticket.Ticket `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

func decodeList(tb testing.TB, r resp) listBody {
	tb.Helper()
	var b listBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		tb.Fatalf("decode list %s: %v", r.body, err)
	}
	return b
}
