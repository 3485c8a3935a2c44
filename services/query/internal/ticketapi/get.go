package ticketapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
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
	id, ok := ticket.ParseID(c.Param("id"))
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
	tag := httpx.ETag(res.Version)
	c.Header("ETag", tag)
	if noneMatch(c.GetHeader("If-None-Match"), res.Version) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json", res.Body)
}

// noneMatch reports whether an If-None-Match header matches the current
// version: "*", or any listed tag, weak or strong, since If-None-Match uses
// the weak comparison (RFC 9110 section 13.1.2). Malformed members match
// nothing.
func noneMatch(h string, version int64) bool {
	tags, anyTag := httpx.ParseEntityTags(h)
	if anyTag {
		return true
	}
	for _, t := range tags {
		if t.Version == version {
			return true
		}
	}
	return false
}
