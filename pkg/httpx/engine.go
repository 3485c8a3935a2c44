package httpx

import (
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// EngineOption adds optional behaviour to NewEngine.
type EngineOption func(*gin.Engine)

// WithTracing starts a server span per request (OpenTelemetry, W3C
// traceparent from the caller) before the access log, so its line carries
// the trace id. With tracing off it adds nothing to the chain.
func WithTracing(service string) EngineOption {
	return func(e *gin.Engine) {
		if tracing.On() {
			e.Use(traceRequests(service))
		}
	}
}

// NewEngine returns a gin engine with the shared middleware, in this order: RequestID (so every
// later line and response has the id), metrics and access log (outside Recovery, so a recovered
// panic is still counted and logged as a 500), then Recovery. metrics may be nil.
//
// Trailing-slash redirects are off: gin answers them before any middleware runs, so they would go
// out without X-Request-ID, and a redirected POST is of no use to an API client anyway.
func NewEngine(logger *slog.Logger, metrics *Metrics, opts ...EngineOption) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.ContextWithFallback = true
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	// No proxy is trusted: ClientIP is the peer address, never a spoofable X-Forwarded-For.
	_ = e.SetTrustedProxies(nil) // cannot fail for nil

	e.Use(RequestID())
	for _, o := range opts {
		o(e)
	}
	if metrics != nil {
		e.Use(metrics.Middleware())
	}
	e.Use(AccessLog(logger), Recovery(logger))
	e.NoRoute(NoRoute())
	e.NoMethod(NoMethod())
	return e
}
