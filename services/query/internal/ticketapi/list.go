package ticketapi

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// Limits of a page.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

var listParams = map[string]bool{
	"status": true, "assignee": true, "sort_by": true, "order": true, "limit": true, "cursor": true,
}

// list serves GET /tickets: one keyset page and the cursor of the next.
func (h *Handlers) list(c *gin.Context) {
	v, ok := query(c)
	if !ok {
		return
	}
	q, errs := h.parseList(v)
	if len(errs) > 0 {
		badQuery(c, errs)
		return
	}
	res, err := h.queries.List(c.Request.Context(), q)
	c.Header(HeaderCache, string(res.Source))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Data(http.StatusOK, "application/json", res.Body)
}

// parseList validates every parameter and reports all that are wrong at
// once. The cursor is checked last, against the rest: it must come from a
// list with the same sort_by, order and filters.
func (h *Handlers) parseList(v url.Values) (app.ListQuery, []problem.FieldError) {
	q := app.ListQuery{SortBy: ticket.SortCreatedAt, Order: "desc", Limit: DefaultLimit}
	errs := onlyParams(v, listParams)
	// An empty filter (status=) is no filter, as an HTML form sends it.
	if s := v.Get("status"); s != "" {
		if !ticket.ValidStatus(s) {
			errs = append(errs, fieldErr("status", "must be one of open, in_progress, resolved, closed"))
		}
		q.Status = s
	}
	if a := v.Get("assignee"); a != "" {
		if utf8.RuneCountInString(a) > ticket.MaxPersonLen || !utf8.ValidString(a) || strings.ContainsRune(a, 0) {
			errs = append(errs, fieldErr("assignee", "must be valid UTF-8 without NUL, at most 100 characters"))
		}
		q.Assignee = a
	}
	if s, ok := first(v, "sort_by"); ok {
		if !ticket.ValidSort(s) {
			errs = append(errs, fieldErr("sort_by", "must be one of created_at, updated_at, priority, title"))
		}
		q.SortBy = s
	}
	if o, ok := first(v, "order"); ok {
		if o != "asc" && o != "desc" {
			errs = append(errs, fieldErr("order", "must be asc or desc"))
		}
		q.Order = o
	}
	if l, ok := first(v, "limit"); ok {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			errs = append(errs, fieldErr("limit", "must be an integer from 1 to 200"))
		}
		q.Limit = n
	}
	if raw, ok := first(v, "cursor"); ok && len(errs) == 0 {
		k, err := h.codec.Decode(q.Scope(), raw)
		switch {
		case errors.Is(err, cursor.ErrOtherQuery):
			errs = append(errs, fieldErr("cursor", "belongs to a list with another sort_by, order, status or assignee; "+
				"send the same parameters as for the page that returned it"))
		case err != nil:
			errs = append(errs, fieldErr("cursor", "is not a cursor this service issued"))
		}
		// The cache key holds the cursor re-encoded from what it says, not
		// as sent: base64 ignores line breaks, so sent spellings are
		// unlimited, and each would be a key of its own.
		q.Cursor, q.After = h.codec.Encode(q.Scope(), k), &k
	}
	return q, errs
}

// first returns a parameter that was given; an empty value counts as given,
// so "limit=" is an error rather than silently the default.
func first(v url.Values, name string) (string, bool) {
	vals, ok := v[name]
	if !ok || len(vals) == 0 {
		return "", false
	}
	return vals[0], true
}

// onlyParams reports parameters that are unknown or given more than once:
// a misspelt filter must not silently widen a list.
func onlyParams(v url.Values, allowed map[string]bool) []problem.FieldError {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	var errs []problem.FieldError
	for _, name := range names {
		switch {
		case !allowed[name]:
			errs = append(errs, fieldErr(name, "is not a known query parameter"))
		case len(v[name]) > 1:
			errs = append(errs, fieldErr(name, "is given more than once"))
		}
	}
	return errs
}

func fieldErr(field, msg string) problem.FieldError {
	return problem.FieldError{Field: field, Message: msg}
}

// badQuery answers 400 with every offending parameter.
func badQuery(c *gin.Context, errs []problem.FieldError) {
	problem.Write(c, problem.Problem{
		Status: http.StatusBadRequest,
		Detail: "One or more query parameters are invalid.",
		Errors: errs,
	})
}
