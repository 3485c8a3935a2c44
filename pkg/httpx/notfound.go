package httpx

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

// NoRoute answers unknown paths with a 404 problem instead of gin's plain-text body.
func NoRoute() gin.HandlerFunc {
	return func(c *gin.Context) {
		problem.NotFound(c, "No resource at this path.")
	}
}

// NoMethod answers a known path with a wrong method with a 405 problem; gin has already set the
// Allow header. It is only reached when engine.HandleMethodNotAllowed is true.
func NoMethod() gin.HandlerFunc {
	return func(c *gin.Context) {
		problem.Status(c, http.StatusMethodNotAllowed, "The method is not allowed on this resource; see the Allow header.")
	}
}
