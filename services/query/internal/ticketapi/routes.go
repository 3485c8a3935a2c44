// Package ticketapi is the query service's HTTP surface: the read endpoints
// and /redis-health.
package ticketapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/services/query/internal/app"
	"github.com/ticketsys/ticketsys/services/query/internal/cursor"
)

// Scope is what a token needs to read tickets.
const Scope = "tickets:read"

// HeaderCache says where a read was served from: HIT, MISS or BYPASS.
const HeaderCache = "X-Cache"

// Handlers serves the read endpoints.
type Handlers struct {
	queries *app.Queries
	codec   cursor.Codec
	rdb     redis.UniversalClient
	log     *slog.Logger
	pings   singleflight.Group
}

// Routes registers GET (and HEAD, which the front door sends here too)
// /tickets and /tickets/:id behind scope tickets:read; /redis-health, which
// needs no token like the other operational endpoints; and GET
// /openapi.yaml, the service's OpenAPI description (api/openapi/query.yaml),
// which needs none either.
func Routes(r gin.IRouter, q *app.Queries, codec cursor.Codec, rdb redis.UniversalClient, v *auth.Verifier,
	log *slog.Logger, limit gin.HandlerFunc) {
	h := &Handlers{queries: q, codec: codec, rdb: rdb, log: log}
	g := r.Group("/tickets", limit, auth.Middleware(v, Scope))
	g.GET("", h.list)
	g.HEAD("", h.list)
	g.GET("/:id", h.get)
	g.HEAD("/:id", h.get)
	r.GET("/redis-health", h.redisHealth)
	spec := openapi.Query()
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, openapi.ContentType, spec) })
}
