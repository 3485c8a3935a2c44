// Package httpx holds the gin plumbing every service shares: request ids, access logs, metrics,
// recovery, body limits, health endpoints, the engine and graceful serving.
package httpx

import (
	"context"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-ID"

const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID keeps the caller's X-Request-ID when it is sane, else makes a UUIDv7, echoes it on the
// response and stores it in the request context. Insane ids are replaced rather than rejected: they
// would otherwise reach log lines and event headers verbatim (log injection, unbounded size).
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !saneRequestID(id) {
			id = newRequestID()
		}
		c.Header(HeaderRequestID, id)
		c.Request = c.Request.WithContext(WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// WithRequestID returns ctx carrying id, for work that starts outside an HTTP request (e.g. a
// consumer that takes the id from an event's correlation_id).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the id stored by RequestID or WithRequestID, or "" when there is none.
// A *gin.Context works too when the engine has ContextWithFallback set (NewEngine does).
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case b == '.' || b == '_' || b == ':' || b == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only when the random source does; a v4 is still unique enough for tracing.
		return uuid.NewString()
	}
	return id.String()
}
