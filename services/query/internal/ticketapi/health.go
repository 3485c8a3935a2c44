package ticketapi

import (
	"context"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/services/query/internal/cacheguard"
)

// healthTimeout bounds /redis-health; the client's own timeouts are
// shorter, so it is reached only if those are misconfigured.
const healthTimeout = 2 * time.Second

// redisHealth pings Redis itself rather than asking the breaker, so it
// shows the state of Redis now: 200 with the round trip, or 503 with a
// short reason.
func (h *Handlers) redisHealth(c *gin.Context) {
	// Concurrent callers share one PING: the endpoint is public (the original
	// guide checks it through the front door), and a flood of it must not
	// become a flood of Redis round trips. The shared ping is not cancelled
	// by any one caller leaving.
	v, err, _ := h.pings.Do("", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), healthTimeout)
		defer cancel()
		return cacheguard.Ping(ctx, h.rdb)
	})
	latency, _ := v.(time.Duration)
	if err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": err.Error()})
		return
	}
	ms := math.Round(float64(latency.Microseconds())/10) / 100 // two decimals
	c.JSON(http.StatusOK, gin.H{"status": "ok", "latency_ms": ms})
}
