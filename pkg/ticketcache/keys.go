// Package ticketcache is the Redis key scheme shared by the query service
// (which fills the cache) and the cache-invalidator (which keeps it fresh).
//
//	ticket:{id}                                 the ticket's API JSON (or a tombstone), version-fenced
//	tickets:all:{status}:{sort_by}:{assignee}:{order}:{limit}:{cursor}:g{gen}
//	                                            one cached list page; None for an absent filter
//	tickets:gen:{status}:{assignee}             the generation of every list with those filters
//	tickets:canary[:{n}]                        the invalidator's sign that Redis kept its data
//	                                            (on Cluster one per shard, n a hash tag)
//
// A change to a ticket bumps the generations of the (at most seven) filter
// combinations it was or is in (any × any, and each of status and assignee
// before and after, alone and together): O(1) work, no KEYS, no multi-key scripts, so
// it works on Redis Cluster. A list page is cached under the generation read
// *before* its database query, so a page computed from data older than a
// change is stored under a generation nobody reads again: no stale set.
//
// Redis may lose data: an eviction, a FLUSHALL, a restart without
// persistence, a failover to a replica that had not received the last
// writes. What still holds then:
//
//   - A generation never repeats: a counter found missing is set from the
//     server's clock (in microseconds), above every value it held before,
//     so pages cached under earlier generations are never current again.
//   - A stale ticket entry does not outlive the loss by more than a few
//     seconds: the version fence lives in ticket:{id} and is lost with it,
//     so a fill that read Postgres before the loss can write an older
//     version than the one the invalidator had written. The invalidator
//     notices the loss (LossDetector) and applies the recent events again,
//     over any such fill.
//   - With WaitReplicas, a write the invalidator counts as done is on a
//     replica too, so a failover does not lose it.
package ticketcache

import (
	"net/url"
	"strconv"
	"strings"
)

// None stands for an absent filter in keys, as in the original guide
// (tickets:all:None:created_at:None).
const None = "None"

// firstPage stands for "no cursor" in list keys.
const firstPage = "first"

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
		cursor = firstPage
	}
	return k.ListPrefix() + part(q.Status) + ":" + q.SortBy + ":" + part(q.Assignee) + ":" +
		q.Order + ":" + strconv.Itoa(q.Limit) + ":" + cursor + ":g" + strconv.FormatInt(gen, 10)
}

// ParseList reverses List: the page's query and generation, and false for
// any key List would not build. Callers check the values themselves (a sort
// the API does not offer, say).
func (k Keys) ParseList(key string) (q ListQuery, gen int64, ok bool) {
	rest, found := strings.CutPrefix(key, k.ListPrefix())
	if !found {
		return q, 0, false
	}
	p := strings.SplitN(rest, ":", 6)
	if len(p) != 6 {
		return q, 0, false
	}
	i := strings.LastIndex(p[5], ":")
	if i < 0 || !strings.HasPrefix(p[5][i+1:], "g") {
		return q, 0, false
	}
	cursor, genPart := p[5][:i], p[5][i+2:]
	var err1, err2, err3, err4 error
	gen, err1 = strconv.ParseInt(genPart, 10, 64)
	q.Limit, err2 = strconv.Atoi(p[4])
	q.Status, err3 = unpart(p[0])
	q.Assignee, err4 = unpart(p[2])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return ListQuery{}, 0, false
	}
	q.SortBy, q.Order = p[1], p[3]
	if cursor != firstPage {
		q.Cursor = cursor
	}
	return q, gen, k.List(q, gen) == key
}

// Gen is the generation key of the lists filtered by status and assignee
// ("" meaning the filter is absent).
func (k Keys) Gen(status, assignee string) string {
	return k.Prefix + "tickets:gen:" + part(status) + ":" + part(assignee)
}

// Canary is the key LossDetector watches (with a hash tag on Cluster).
func (k Keys) Canary() string {
	return k.Prefix + "tickets:canary"
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

// unpart reverses part.
func unpart(v string) (string, error) {
	if v == None {
		return "", nil
	}
	return url.QueryUnescape(v)
}
