package ticketapi

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/services/command/internal/app"
)

// MaxBody is the largest request body accepted.
const MaxBody = 1 << 20

// Routes registers the write endpoints, all behind scope tickets:write and
// limit (see httpx.Limit), which goes first: refusing is cheapest before
// the token is checked; and GET /openapi.yaml, the service's OpenAPI
// description (api/openapi/command.yaml), which needs no token.
func Routes(r gin.IRouter, cmds *app.Commands, v *auth.Verifier, log *slog.Logger, limit gin.HandlerFunc) {
	h := &Handlers{cmds: cmds, errs: &errorMapper{log: log}}
	g := r.Group("/tickets", limit, auth.Middleware(v, "tickets:write"), httpx.BodyLimit(MaxBody))
	g.POST("", h.create)
	g.PUT("/:id", h.update)
	g.PATCH("/:id", h.update)
	g.DELETE("/:id", h.remove)
	spec := openapi.Command()
	r.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, openapi.ContentType, spec) })
}
