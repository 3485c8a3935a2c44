package auth

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/ticketsys/ticketsys/pkg/problem"
)

// Realm names the protection space in challenges.
const Realm = "tickets"

// Anonymous is the subject of every request when authentication is disabled.
const Anonymous = "anonymous"

type subjectKey struct{}

// Middleware lets a request through only with a valid bearer token that grants scope (no scope
// check when scope is ""), and stores the token's subject for Subject. Answers follow RFC 6750:
// 401 with a challenge (error="invalid_token" only when a token was sent) or 403 insufficient_scope.
func Middleware(v *Verifier, scope string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if v.disabled {
			setSubject(c, Anonymous)
			c.Next()
			return
		}
		raw, ok := bearerToken(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
			problem.Unauthorized(c, "A bearer token is required.")
			return
		}
		claims, err := v.Verify(raw)
		if err != nil {
			// The reason stays unsaid: telling a caller which check failed helps only an attacker.
			c.Header("WWW-Authenticate", `Bearer realm="`+Realm+`", error="invalid_token"`)
			problem.Unauthorized(c, "The bearer token is invalid or has expired.")
			return
		}
		if scope != "" && !claims.HasScope(scope) {
			c.Header("WWW-Authenticate", `Bearer realm="`+Realm+`", error="insufficient_scope", scope="`+scope+`"`)
			problem.Forbidden(c, "The token lacks the scope "+scope+".")
			return
		}
		setSubject(c, claims.Subject)
		c.Next()
	}
}

// Subject returns the authenticated subject stored by Middleware, or "" outside a guarded route.
func Subject(ctx context.Context) string {
	s, _ := ctx.Value(subjectKey{}).(string)
	return s
}

func setSubject(c *gin.Context, sub string) {
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), subjectKey{}, sub))
}

// bearerToken extracts the token; the scheme is case-insensitive (RFC 9110 section 11.1). Any
// other scheme counts as no token, so the challenge tells the client which scheme to use.
func bearerToken(header string) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(header), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
