// Package ticket holds the ticket as the API shows it: the one model that the
// command side writes, the events carry, and the query side caches and serves.
package ticket

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// Status values.
const (
	StatusOpen       = "open"
	StatusInProgress = "in_progress"
	StatusResolved   = "resolved"
	StatusClosed     = "closed"
)

// Priority values.
const (
	PriorityLow    = "low"
	PriorityMedium = "medium"
	PriorityHigh   = "high"
	PriorityUrgent = "urgent"
)

// Sort keys of a list, as the API names them.
const (
	SortCreatedAt = "created_at"
	SortUpdatedAt = "updated_at"
	SortPriority  = "priority"
	SortTitle     = "title"
)

// ValidSort reports whether s is one of the sort keys.
func ValidSort(s string) bool {
	switch s {
	case SortCreatedAt, SortUpdatedAt, SortPriority, SortTitle:
		return true
	}
	return false
}

// Field limits from the contract.
const (
	MaxTitleLen       = 200
	MaxDescriptionLen = 10000
	MaxPersonLen      = 100
	MaxTags           = 20
	MaxTagLen         = 50
)

// Sentinel errors shared by both sides; adapters wrap driver errors into
// them, and the HTTP layers map them to statuses without looking at a driver
// error themselves.
var (
	ErrNotFound        = errors.New("ticket not found")
	ErrVersionConflict = errors.New("ticket version conflict")
	// ErrUnavailable is a store that does not answer (down, unreachable,
	// timed out): the request may succeed when retried (503).
	ErrUnavailable = errors.New("ticket store unavailable")
)

// Ticket is the API representation. Field order and JSON names are the
// contract's; the cache stores exactly these bytes.
type Ticket struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	Priority    string    `json:"priority"`
	Assignee    string    `json:"assignee"`
	Reporter    string    `json:"reporter"`
	Tags        []string  `json:"tags"`
	Version     int64     `json:"version"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// ValidStatus reports whether s is one of the contract's statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusOpen, StatusInProgress, StatusResolved, StatusClosed:
		return true
	}
	return false
}

// ValidPriority reports whether p is one of the contract's priorities.
func ValidPriority(p string) bool {
	return PriorityRank(p) > 0
}

// PriorityRank orders priorities for sorting (low=1 … urgent=4, 0 when
// unknown). The database keeps the same mapping in a generated column.
func PriorityRank(p string) int {
	switch p {
	case PriorityLow:
		return 1
	case PriorityMedium:
		return 2
	case PriorityHigh:
		return 3
	case PriorityUrgent:
		return 4
	}
	return 0
}

// Clone returns a deep copy, so a caller can change tags without touching t.
func (t Ticket) Clone() Ticket {
	c := t
	c.Tags = append([]string{}, t.Tags...)
	return c
}

// Timestamp normalises a time the way Postgres stores it (UTC, microseconds),
// so what a write returns equals what a later read returns.
func Timestamp(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// ParseID accepts a ticket id in the canonical 36-character UUID form
// (either case) and returns it in lower case, which is how Postgres prints
// it and how the cache key ticket:{id} is spelt: one key per ticket.
func ParseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
