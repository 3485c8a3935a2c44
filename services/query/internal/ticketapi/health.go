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
	ctx, cancel := context.WithTimeout(c.Request.Context(), healthTimeout)
	defer cancel()
	latency, err := cacheguard.Ping(ctx, h.rdb)
	if err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": err.Error()})
		return
	}
	ms := math.Round(float64(latency.Microseconds())/10) / 100 // two decimals
	c.JSON(http.StatusOK, gin.H{"status": "ok", "latency_ms": ms})
}
