package httpx

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

// BodyLimit answers 413 up front when Content-Length already exceeds n, and otherwise caps the
// body so a chunked or lying stream cannot make a handler read more than n bytes: the handler's
// decode then fails with *http.MaxBytesError (see IsBodyTooLarge), and net/http closes the
// connection after the response instead of draining the rest.
func BodyLimit(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > n {
			problem.PayloadTooLarge(c, tooLargeDetail(n))
			return
		}
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// IsBodyTooLarge tells whether err (possibly wrapped) came from reading past a BodyLimit cap, so
// handlers answer 413 instead of 400 for it.
func IsBodyTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func tooLargeDetail(n int64) string {
	return fmt.Sprintf("The request body exceeds the limit of %d bytes.", n)
}
