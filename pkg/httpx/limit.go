package httpx

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

// Limit lets at most n requests run at once. One more waits up to wait for
// a turn and is then answered 503 with Retry-After: under a load beyond what
// the process can serve, requests are refused early and cheaply instead of
// queueing without bound, holding memory and connections to Postgres.
// Routes outside it (probes, metrics) answer whatever the load.
func Limit(n int, wait time.Duration) gin.HandlerFunc {
	slots := make(chan struct{}, n)
	return func(c *gin.Context) {
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(wait)
			select {
			case slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				problem.Unavailable(c, "The service is at capacity; retry shortly.")
				return
			case <-c.Request.Context().Done():
				t.Stop()
				c.Abort()
				return
			}
		}
		defer func() { <-slots }()
		c.Next()
	}
}
