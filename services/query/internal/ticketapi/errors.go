package ticketapi

import (
	"errors"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
)

// fail answers a read that neither Redis nor Postgres could serve. Outages
// are 503 with Retry-After, so clients and the front door retry; anything
// else is a bug, logged with the request id and answered without detail.
func (h *Handlers) fail(c *gin.Context, err error) {
	ctx := c.Request.Context()
	if errors.Is(err, ticket.ErrUnavailable) {
		h.log.WarnContext(ctx, "ticket store unavailable",
			"request_id", httpx.RequestIDFrom(ctx), "error", err.Error())
		problem.Unavailable(c, "The ticket store is unavailable and the cache cannot answer this request; retry shortly.")
		return
	}
	h.log.ErrorContext(ctx, "read failed", "request_id", httpx.RequestIDFrom(ctx), "error", err.Error())
	problem.Internal(c)
}

// query parses the query string strictly: a malformed escape or a ';' is a
// bad request, not a parameter silently dropped.
func query(c *gin.Context) (url.Values, bool) {
	v, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		problem.BadRequest(c, "The query string is malformed.")
		return nil, false
	}
	return v, true
}
