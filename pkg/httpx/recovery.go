package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

// Recovery turns a handler panic into a 500 problem without detail; the panic value and stack go
// only to the log, tagged with the request id so the two can be matched.
func Recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				// net/http's deliberate way to drop a connection; it must keep unwinding.
				panic(rec)
			}
			logger.ErrorContext(c.Request.Context(), "panic in handler",
				slog.String("request_id", RequestIDFrom(c.Request.Context())),
				slog.String("method", c.Request.Method),
				slog.String("route", routeOf(c)),
				slog.String("panic", fmt.Sprint(rec)),
				slog.String("stack", string(debug.Stack())),
			)
			problem.Internal(c)
		}()
		c.Next()
	}
}
