// Package problem writes RFC 9457 problem details (application/problem+json) for gin handlers.
//
// Every error response of every service goes through Write, so the wire shape is defined once.
// Callers pass only texts meant for clients: driver messages and wrapped errors never belong here.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// ContentType is the media type of every error body (RFC 9457 section 3).
const ContentType = "application/problem+json"

// TypeValidation identifies a 422 whose errors list names the offending fields. It is a stable
// identifier, not a page that has to resolve.
const TypeValidation = "https://ticketsys.dev/problems/validation"

// FieldError tells which request field broke which rule.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is the response body. Detail is optional by the RFC; Errors is set only for validation.
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// MaxInstanceLen is the longest request path echoed as "instance".
const MaxInstanceLen = 256

// MaxFieldErrors bounds the errors list: an answer stays small whatever
// the request held.
const MaxFieldErrors = 25

// Write fills in the defaults, sets the headers the status calls for, writes p and aborts the chain.
func Write(c *gin.Context, p Problem) {
	if n := len(p.Errors); n > MaxFieldErrors {
		p.Errors = append(p.Errors[:MaxFieldErrors:MaxFieldErrors],
			FieldError{Field: "(more)", Message: strconv.Itoa(n-MaxFieldErrors) + " more errors not listed"})
	}
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Instance == "" && c.Request != nil && c.Request.URL != nil {
		// The path only: a query string may carry things that must not be
		// echoed. A path longer than any route of ours is left out rather
		// than cut: a cut path would name another resource, and echoing it
		// whole lets a client make every error as large as its request.
		if path := c.Request.URL.EscapedPath(); len(path) <= MaxInstanceLen {
			p.Instance = path
		}
	}

	h := c.Writer.Header()
	switch p.Status {
	case http.StatusUnauthorized:
		// The auth package sets a richer challenge (realm, error=) before calling Write; keep it.
		if h.Get("WWW-Authenticate") == "" {
			h.Set("WWW-Authenticate", "Bearer")
		}
	case http.StatusServiceUnavailable:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", "1")
		}
	}

	if c.Writer.Written() {
		// Too late to change the status or body (e.g. a panic mid-stream); stop the chain at least.
		c.Abort()
		return
	}
	body, err := json.Marshal(p)
	if err != nil {
		// Only strings and ints inside, so this cannot happen; answer something valid regardless.
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	c.Abort()
	c.Data(p.Status, ContentType, body)
}

// Status writes a problem with the given status, the default title and detail.
func Status(c *gin.Context, status int, detail string) {
	Write(c, Problem{Status: status, Detail: detail})
}

// BadRequest is for malformed JSON, bad query parameters, bad cursors and bad ids (400).
func BadRequest(c *gin.Context, detail string) { Status(c, http.StatusBadRequest, detail) }

// Unauthorized is for a missing or invalid token (401). Prefer the auth middleware, which sets the challenge.
func Unauthorized(c *gin.Context, detail string) { Status(c, http.StatusUnauthorized, detail) }

// Forbidden is for a token without the needed scope (403).
func Forbidden(c *gin.Context, detail string) { Status(c, http.StatusForbidden, detail) }

// NotFound is for an unknown resource or route (404).
func NotFound(c *gin.Context, detail string) { Status(c, http.StatusNotFound, detail) }

// Conflict is for a request that collides with one still running (409).
func Conflict(c *gin.Context, detail string) { Status(c, http.StatusConflict, detail) }

// PreconditionFailed is for an If-Match that no longer matches (412).
func PreconditionFailed(c *gin.Context, detail string) {
	Status(c, http.StatusPreconditionFailed, detail)
}

// PayloadTooLarge is for a body over the limit (413).
func PayloadTooLarge(c *gin.Context, detail string) {
	Status(c, http.StatusRequestEntityTooLarge, detail)
}

// UnsupportedMediaType is for a body that is not JSON (415).
func UnsupportedMediaType(c *gin.Context, detail string) {
	Status(c, http.StatusUnsupportedMediaType, detail)
}

// Unprocessable is for a well-formed request that cannot be honoured, e.g. an idempotency key
// reused with another body (422). Field rule violations use Validation instead.
func Unprocessable(c *gin.Context, detail string) { Status(c, http.StatusUnprocessableEntity, detail) }

// Validation answers 422 listing every field that broke a rule, so clients can fix all at once.
func Validation(c *gin.Context, errs []FieldError) {
	Write(c, Problem{
		Type:   TypeValidation,
		Title:  "Validation failed",
		Status: http.StatusUnprocessableEntity,
		Detail: "One or more fields are invalid.",
		Errors: errs,
	})
}

// Unavailable is for a dependency that is down (503, with Retry-After).
func Unavailable(c *gin.Context, detail string) { Status(c, http.StatusServiceUnavailable, detail) }

// Internal answers 500 with a fixed text: whatever went wrong belongs in the log, not the response.
func Internal(c *gin.Context) {
	Status(c, http.StatusInternalServerError, "The server could not complete the request.")
}
