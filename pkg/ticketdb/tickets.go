package ticketdb

import (
	"strconv"
	"strings"

	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// Columns are the tickets columns of the API ticket, in ScanFields' order.
const Columns = `id, title, description, status, priority, assignee, reporter, tags,
	version, created_at, updated_at`

// ScanFields are the destinations of Columns for t, then extra.
func ScanFields(t *ticket.Ticket, extra ...any) []any {
	return append([]any{&t.ID, &t.Title, &t.Description, &t.Status, &t.Priority, &t.Assignee,
		&t.Reporter, &t.Tags, &t.Version, &t.CreatedAt, &t.UpdatedAt}, extra...)
}

// Normalize makes a scanned row serialise exactly as the command service and
// the events write it: UTC timestamps (pgx returns local time) and [] for no
// tags.
func Normalize(t *ticket.Ticket) {
	t.CreatedAt = t.CreatedAt.UTC()
	t.UpdatedAt = t.UpdatedAt.UTC()
	if t.Tags == nil {
		t.Tags = []string{}
	}
}

// sortColumns maps the API's sort keys to columns; priority sorts by its
// rank (urgent > high > medium > low), not by text.
var sortColumns = map[string]string{
	ticket.SortCreatedAt: "created_at",
	ticket.SortUpdatedAt: "updated_at",
	ticket.SortPriority:  "priority_rank",
	ticket.SortTitle:     "title",
}

// Page is one keyset page of live tickets: the filters ("" for any), the
// order, and where the previous page ended (nil on the first page).
type Page struct {
	Status   string
	Assignee string
	SortBy   string // a ticket.Sort* key
	Desc     bool
	Limit    int
	After    *Position
}

// Position is where a page ended: the last row's sort value (a time for
// created_at and updated_at, the priority rank for priority, the title) and
// its id, which breaks ties.
type Position struct {
	Value any
	ID    string
}

// PageSQL is the query of one page, shared by the query service and the
// cache audit so both read a page the same way. The WHERE on (sort column,
// id) and the ORDER BY match one of the partial indexes of 00001_tickets.sql
// for every filter shape, so page 500 costs what page 1 costs. Only
// whitelisted names reach the text; every value is a parameter.
func PageSQL(p Page) (string, []any) {
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"deleted_at IS NULL"}
	if p.Status != "" {
		where = append(where, "status = "+param(p.Status))
	}
	if p.Assignee != "" {
		where = append(where, "assignee = "+param(p.Assignee))
	}
	col, ok := sortColumns[p.SortBy]
	if !ok {
		col = sortColumns[ticket.SortCreatedAt]
	}
	dir, cmp := "ASC", ">"
	if p.Desc {
		dir, cmp = "DESC", "<"
	}
	if p.After != nil {
		where = append(where, "("+col+", id) "+cmp+" ("+param(p.After.Value)+", "+param(p.After.ID)+")")
	}
	sql := `SELECT ` + Columns + ` FROM tickets WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + col + ` ` + dir + `, id ` + dir + ` LIMIT ` + param(p.Limit)
	return sql, args
}
