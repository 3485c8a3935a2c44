package httpx

import (
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// traceRequests runs the rest of the chain inside otelhttp's server span. otelgin, the gin
// instrumentation, left opentelemetry-go-contrib after v0.65.0; otelhttp is kept in step with the
// SDK and the HTTP semantic conventions. gin has routed by the time a middleware runs, so the
// request's Pattern is set to the route: otelhttp then names the span "METHOD route" and sets
// http.route (a method gin has no route for gives a span named after the method alone).
func traceRequests(service string) gin.HandlerFunc {
	mw := otelhttp.NewMiddleware(service, otelhttp.WithFilter(func(r *http.Request) bool {
		// Probes and scrapes would drown the real traces.
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			return false
		}
		return true
	}))
	return func(c *gin.Context) {
		orig := c.Writer
		defer func() { c.Writer = orig }()
		c.Request.Pattern = c.FullPath()
		mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Request = r
			if w != http.ResponseWriter(orig) { // filtered requests get no wrapper
				c.Writer = spanWriter{ResponseWriter: orig, snoop: w}
			}
			c.Next()
		})).ServeHTTP(orig, c.Request)
	}
}

// spanWriter sends the status and body through otelhttp's writer, which records them on the span
// and passes them on to gin's own writer; everything else (Status, Size, Flush, Hijack) is gin's.
type spanWriter struct {
	gin.ResponseWriter
	snoop http.ResponseWriter
}

func (w spanWriter) WriteHeader(code int)              { w.snoop.WriteHeader(code) }
func (w spanWriter) Write(b []byte) (int, error)       { return w.snoop.Write(b) }
func (w spanWriter) WriteString(s string) (int, error) { return io.WriteString(w.snoop, s) }
