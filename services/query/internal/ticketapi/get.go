package ticketapi

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

// get serves GET /tickets/:id with its ETag, and 304 when If-None-Match
// names the current version.
func (h *Handlers) get(c *gin.Context) {
	v, ok := query(c)
	if !ok {
		return
	}
	if errs := onlyParams(v, nil); len(errs) > 0 {
		badQuery(c, errs)
		return
	}
	id, ok := parseID(c.Param("id"))
	if !ok {
		problem.BadRequest(c, "The ticket id must be a UUID like 01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11.")
		return
	}
	res, err := h.queries.Ticket(c.Request.Context(), id)
	c.Header(HeaderCache, string(res.Source))
	if err != nil {
		h.fail(c, err)
		return
	}
	if !res.Found {
		problem.NotFound(c, "No ticket with this id.")
		return
	}
	tag := etag(res.Version)
	c.Header("ETag", tag)
	if noneMatch(c.GetHeader("If-None-Match"), res.Version) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json", res.Body)
}

// parseID accepts the canonical 36-character form only (either case) and
// returns it in lower case, which is how Postgres prints it and how the
// cache key is spelled: ticket:{id} must be one key per ticket.
func parseID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// etag is the entity tag of a version, as every service writes it.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

// noneMatch reports whether an If-None-Match header matches the current
// version: "*", or any listed tag, weak or strong, since If-None-Match uses
// the weak comparison (RFC 9110 section 13.1.2). Malformed members match
// nothing.
func noneMatch(h string, version int64) bool {
	h = strings.TrimSpace(h)
	if h == "" {
		return false
	}
	if h == "*" {
		return true
	}
	want := etag(version)
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == want {
			return true
		}
	}
	return false
}
