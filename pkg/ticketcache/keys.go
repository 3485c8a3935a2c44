// Package ticketcache is the Redis key scheme shared by the query service
// (which fills the cache) and the cache-invalidator (which keeps it fresh).
//
//	ticket:{id}                                 the ticket's API JSON (or a tombstone), version-fenced
//	tickets:all:{status}:{sort_by}:{assignee}:{order}:{limit}:{cursor}:g{gen}
//	                                            one cached list page; None for an absent filter
//	tickets:gen:{status}:{assignee}             the generation of every list with those filters
//
// A change to a ticket bumps the generations of the (at most nine) filter
// combinations it was or is in: O(1) work, no KEYS, no multi-key scripts, so
// it works on Redis Cluster. A list page is cached under the generation read
// *before* its database query, so a page computed from data older than a
// change is stored under a generation nobody reads again: no stale set.
package ticketcache

import (
	"net/url"
	"strconv"
)

// None stands for an absent filter in keys, as in the original guide
// (tickets:all:None:created_at:None).
const None = "None"

// Keys builds key names. Prefix is empty in production; tests set their own
// so they can share one Redis.
type Keys struct {
	Prefix string
}

// ListQuery is what identifies one list page.
type ListQuery struct {
	Status   string // "" for any
	Assignee string // "" for any
	SortBy   string
	Order    string
	Limit    int
	Cursor   string // "" for the first page
}

// Ticket is the key of one ticket.
func (k Keys) Ticket(id string) string {
	return k.Prefix + "ticket:" + id
}

// ListPrefix is the prefix of every list key; operators scan under it.
func (k Keys) ListPrefix() string {
	return k.Prefix + "tickets:all:"
}

// List is the key of one list page at generation gen.
func (k Keys) List(q ListQuery, gen int64) string {
	cursor := q.Cursor
	if cursor == "" {
		cursor = "first"
	}
	return k.ListPrefix() + part(q.Status) + ":" + q.SortBy + ":" + part(q.Assignee) + ":" +
		q.Order + ":" + strconv.Itoa(q.Limit) + ":" + cursor + ":g" + strconv.FormatInt(gen, 10)
}

// Gen is the generation key of the lists filtered by status and assignee
// ("" meaning the filter is absent).
func (k Keys) Gen(status, assignee string) string {
	return k.Prefix + "tickets:gen:" + part(status) + ":" + part(assignee)
}

// part escapes a filter value (query-string escaping) so that ':', spaces
// and SCAN's glob characters cannot break the key apart; the contract's
// statuses and plain names stay as they are.
func part(v string) string {
	switch v {
	case "":
		return None
	case None:
		// A person literally called "None" must not share the key of "no filter".
		return "%4Eone"
	}
	return url.QueryEscape(v)
}
