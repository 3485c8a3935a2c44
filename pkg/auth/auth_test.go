package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/problem"
)

const secret = "0123456789abcdef0123456789abcdef-test"

var rsaKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "scope": "tickets:read tickets:write", "exp": time.Now().Add(time.Hour).Unix()}
	if mod != nil {
		mod(c)
	}
	return c
}

// router guards GET /t with scope and echoes the subject seen by the handler.
func router(t *testing.T, cfg auth.Config, scope string) *gin.Engine {
	t.Helper()
	v, err := auth.NewVerifier(cfg)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.GET("/t", auth.Middleware(v, scope), func(c *gin.Context) {
		c.String(http.StatusOK, auth.Subject(c.Request.Context()))
	})
	return e
}

func call(e *gin.Engine, authz string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/t", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestMiddlewareHS256(t *testing.T) {
	t.Parallel()
	const invalid = `Bearer realm="tickets", error="invalid_token"`
	hs := func(mod func(jwt.MapClaims)) string {
		return "Bearer " + sign(t, jwt.SigningMethodHS256, []byte(secret), claims(mod))
	}
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))

	tests := []struct {
		name      string
		cfg       auth.Config
		scope     string
		authz     string
		code      int
		challenge string
		body      string
	}{
		{"no token", auth.Config{}, "tickets:read", "", 401, `Bearer realm="tickets"`, ""},
		{"other scheme", auth.Config{}, "tickets:read", "Basic YWxpY2U6cHc=", 401, `Bearer realm="tickets"`, ""},
		{"empty bearer", auth.Config{}, "tickets:read", "Bearer ", 401, `Bearer realm="tickets"`, ""},
		{"malformed", auth.Config{}, "tickets:read", "Bearer not.a.jwt", 401, invalid, ""},
		{"bad signature", auth.Config{}, "tickets:read",
			"Bearer " + sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), claims(nil)), 401, invalid, ""},
		{"alg none", auth.Config{}, "tickets:read", "Bearer " + none, 401, invalid, ""},
		{"HS512 same secret", auth.Config{}, "tickets:read",
			"Bearer " + sign(t, jwt.SigningMethodHS512, []byte(secret), claims(nil)), 401, invalid, ""},
		{"RS256 header", auth.Config{}, "tickets:read",
			"Bearer " + sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil)), 401, invalid, ""},
		{"expired", auth.Config{}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), 401, invalid, ""},
		{"expired within leeway", auth.Config{}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() }), 200, "", "alice"},
		{"not yet valid", auth.Config{}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(time.Hour).Unix() }), 401, invalid, ""},
		{"no exp", auth.Config{}, "tickets:read", hs(func(c jwt.MapClaims) { delete(c, "exp") }), 401, invalid, ""},
		{"no sub", auth.Config{}, "tickets:read", hs(func(c jwt.MapClaims) { delete(c, "sub") }), 401, invalid, ""},
		{"wrong issuer", auth.Config{Issuer: "https://idp"}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["iss"] = "https://evil" }), 401, invalid, ""},
		{"missing issuer", auth.Config{Issuer: "https://idp"}, "tickets:read", hs(nil), 401, invalid, ""},
		{"right issuer", auth.Config{Issuer: "https://idp"}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["iss"] = "https://idp" }), 200, "", "alice"},
		{"wrong audience", auth.Config{Audience: "tickets-api"}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["aud"] = "other-api" }), 401, invalid, ""},
		{"audience in list", auth.Config{Audience: "tickets-api"}, "tickets:read",
			hs(func(c jwt.MapClaims) { c["aud"] = []string{"other", "tickets-api"} }), 200, "", "alice"},
		{"missing scope", auth.Config{}, "tickets:write", hs(func(c jwt.MapClaims) { c["scope"] = "tickets:read" }),
			403, `Bearer realm="tickets", error="insufficient_scope", scope="tickets:write"`, ""},
		{"no scope claim", auth.Config{}, "tickets:read", hs(func(c jwt.MapClaims) { delete(c, "scope") }),
			403, `Bearer realm="tickets", error="insufficient_scope", scope="tickets:read"`, ""},
		{"scope as array", auth.Config{}, "tickets:write",
			hs(func(c jwt.MapClaims) { c["scope"] = []string{"tickets:write"} }), 200, "", "alice"},
		{"good token", auth.Config{}, "tickets:write", hs(nil), 200, "", "alice"},
		{"lowercase scheme", auth.Config{}, "tickets:read", strings.Replace(hs(nil), "Bearer", "bearer", 1), 200, "", "alice"},
		{"no scope required", auth.Config{}, "", hs(func(c jwt.MapClaims) { delete(c, "scope") }), 200, "", "alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.JWTSecret = secret
			rec := call(router(t, cfg, tt.scope), tt.authz)
			assert.Equal(t, tt.code, rec.Code, rec.Body.String())
			assert.Equal(t, tt.challenge, rec.Header().Get("WWW-Authenticate"))
			if tt.code == 200 {
				assert.Equal(t, tt.body, rec.Body.String())
				return
			}
			assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
			var p problem.Problem
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, tt.code, p.Status)
		})
	}
}

func TestMiddlewareDisabled(t *testing.T) {
	t.Parallel()
	e := router(t, auth.Config{Disabled: true}, "tickets:write")
	for _, authz := range []string{"", "Bearer garbage"} {
		rec := call(e, authz)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, auth.Anonymous, rec.Body.String())
	}
	v, err := auth.NewVerifier(auth.Config{Disabled: true})
	require.NoError(t, err)
	_, err = v.Verify("x")
	assert.ErrorIs(t, err, auth.ErrDisabled)
}

func TestMintVerify(t *testing.T) {
	t.Parallel()
	tok, err := auth.Mint([]byte(secret), "bob", []string{"tickets:read", "tickets:write"}, time.Hour, "https://idp", "tickets-api")
	require.NoError(t, err)
	v, err := auth.NewVerifier(auth.Config{JWTSecret: secret, Issuer: "https://idp", Audience: "tickets-api"})
	require.NoError(t, err)
	c, err := v.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, &auth.Claims{Subject: "bob", Scopes: []string{"tickets:read", "tickets:write"}}, c)
	assert.True(t, c.HasScope("tickets:write"))

	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	require.NoError(t, err)
	mc := parsed.Claims.(jwt.MapClaims)
	assert.Equal(t, "HS256", parsed.Header["alg"])
	assert.Equal(t, "tickets:read tickets:write", mc["scope"])
	for _, k := range []string{"iat", "nbf", "exp"} {
		assert.Contains(t, mc, k)
	}

	_, err = v.Verify(tok + "x")
	assert.ErrorIs(t, err, auth.ErrInvalidToken)

	for _, bad := range []struct {
		secret, sub string
		ttl         time.Duration
	}{{"short", "bob", time.Hour}, {secret, "", time.Hour}, {secret, "bob", 0}} {
		_, err := auth.Mint([]byte(bad.secret), bad.sub, nil, bad.ttl, "", "")
		assert.Error(t, err)
	}
}

func TestVerifyES256RejectedWithSecret(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	v, err := auth.NewVerifier(auth.Config{JWTSecret: secret})
	require.NoError(t, err)
	_, err = v.Verify(sign(t, jwt.SigningMethodES256, ec, claims(nil)))
	assert.ErrorIs(t, err, auth.ErrInvalidToken)
}
