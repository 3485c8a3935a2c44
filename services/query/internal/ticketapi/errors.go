package ticketapi

import (
	"context"
	"errors"
	"net"
	"net/url"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
)

// fail answers a read that neither Redis nor Postgres could serve. Outages
// are 503 with Retry-After, so clients and the front door retry; anything
// else is a bug, logged with the request id and answered without detail.
func (h *Handlers) fail(c *gin.Context, err error) {
	ctx := c.Request.Context()
	if unavailable(err) {
		h.log.WarnContext(ctx, "ticket store unavailable",
			"request_id", httpx.RequestIDFrom(ctx), "error", err.Error())
		problem.Unavailable(c, "The ticket store is unavailable and the cache cannot answer this request; retry shortly.")
		return
	}
	h.log.ErrorContext(ctx, "read failed", "request_id", httpx.RequestIDFrom(ctx), "error", err.Error())
	problem.Internal(c)
}

// unavailable tells a dependency outage from a bug.
func unavailable(err error) bool {
	var (
		connErr *pgconn.ConnectError
		netErr  net.Error
	)
	return errors.As(err, &connErr) || errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err)
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
