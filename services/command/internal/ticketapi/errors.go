package ticketapi

import (
	"errors"
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/problem"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

type errorMapper struct {
	log *slog.Logger
}

// write maps a use-case error to its status. Outages are 503 with
// Retry-After; unexpected errors are logged with the request id and answered
// without any detail.
func (m *errorMapper) write(c *gin.Context, err error) {
	switch {
	case errors.Is(err, ticket.ErrNotFound):
		problem.NotFound(c, "no such ticket")
	case errors.Is(err, ticket.ErrVersionConflict):
		problem.PreconditionFailed(c, "the ticket has changed since the version in If-Match")
	case errors.Is(err, app.ErrIdempotencyInFlight):
		problem.Conflict(c, "a request with this Idempotency-Key is still in progress")
	case errors.Is(err, app.ErrIdempotencyMismatch):
		problem.Unprocessable(c, "this Idempotency-Key was used with another request body")
	case errors.Is(err, ticket.ErrUnavailable):
		m.log.WarnContext(c.Request.Context(), "ticket store unavailable",
			"request_id", httpx.RequestIDFrom(c.Request.Context()), "error", err)
		problem.Unavailable(c, "the ticket store is unavailable; retry shortly")
	default:
		m.log.ErrorContext(c.Request.Context(), "write failed",
			"request_id", httpx.RequestIDFrom(c.Request.Context()), "error", err)
		problem.Internal(c)
	}
}
