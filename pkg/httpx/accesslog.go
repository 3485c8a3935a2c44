package httpx

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"
)

// AccessLog writes one line per request after it finished. It logs the path without the query
// string and no headers at all, so tokens and secrets in either never reach the logs.
func AccessLog(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()

		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		bytes := c.Writer.Size()
		if bytes < 0 {
			bytes = 0
		}
		attrs := []slog.Attr{slog.String("request_id", RequestIDFrom(c.Request.Context()))}
		if sc := trace.SpanContextFromContext(c.Request.Context()); sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
		logger.LogAttrs(c.Request.Context(), level, "request", append(attrs,
			slog.String("method", methodOf(c.Request.Method)),
			slog.String("route", routeOf(c)),
			slog.String("path", c.Request.URL.Path),
			slog.Int("status", status),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", bytes),
			slog.String("client_ip", c.ClientIP()),
		)...)
	}
}

// routeOf names the matched route template, never the raw path: it keeps log fields and metric
// labels bounded when clients probe random URLs.
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
