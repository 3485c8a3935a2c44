package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"

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
	if err != nil {
		t.Fatalf("sign with %s: %v", m.Alg(), err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
			if rec.Code != tt.code {
				t.Errorf("status %d, want %d; body %s", rec.Code, tt.code, rec.Body.String())
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.code == 200 {
				if got := rec.Body.String(); got != tt.body {
					t.Errorf("body %q, want %q", got, tt.body)
				}
				return
			}
			if got := rec.Header().Get("Content-Type"); got != problem.ContentType {
				t.Errorf("Content-Type %q, want %q", got, problem.ContentType)
			}
			var p problem.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("decode problem %s: %v", rec.Body.String(), err)
			}
			if p.Status != tt.code {
				t.Errorf("problem status %d, want %d", p.Status, tt.code)
			}
		})
	}
}

func TestMiddlewareDisabled(t *testing.T) {
	t.Parallel()
	e := router(t, auth.Config{Disabled: true}, "tickets:write")
	for _, authz := range []string{"", "Bearer garbage"} {
		rec := call(e, authz)
		if rec.Code != http.StatusOK {
			t.Errorf("Authorization %q: status %d, want %d", authz, rec.Code, http.StatusOK)
		}
		if got := rec.Body.String(); got != auth.Anonymous {
			t.Errorf("Authorization %q: subject %q, want %q", authz, got, auth.Anonymous)
		}
	}
	v, err := auth.NewVerifier(auth.Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify("x"); !errors.Is(err, auth.ErrDisabled) {
		t.Errorf("Verify: got %v, want %v", err, auth.ErrDisabled)
	}
}

func TestMintVerify(t *testing.T) {
	t.Parallel()
	tok, err := auth.Mint([]byte(secret), "bob", []string{"tickets:read", "tickets:write"}, time.Hour, "https://idp", "tickets-api")
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{JWTSecret: secret, Issuer: "https://idp", Audience: "tickets-api"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := (&auth.Claims{Subject: "bob", Scopes: []string{"tickets:read", "tickets:write"}}); !reflect.DeepEqual(c, want) {
		t.Errorf("claims %+v, want %+v", c, want)
	}
	if !c.HasScope("tickets:write") {
		t.Errorf("claims %+v lack scope tickets:write", c)
	}

	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	mc := parsed.Claims.(jwt.MapClaims)
	if got := parsed.Header["alg"]; got != "HS256" {
		t.Errorf("alg %#v, want %q", got, "HS256")
	}
	if got, want := mc["scope"], "tickets:read tickets:write"; got != want {
		t.Errorf("scope claim %#v, want %q", got, want)
	}
	for _, k := range []string{"iat", "nbf", "exp"} {
		if _, ok := mc[k]; !ok {
			t.Errorf("claims %v lack %s", mc, k)
		}
	}

	if _, err := v.Verify(tok + "x"); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify of a tampered token: got %v, want %v", err, auth.ErrInvalidToken)
	}

	for _, bad := range []struct {
		secret, sub string
		ttl         time.Duration
	}{{"short", "bob", time.Hour}, {secret, "", time.Hour}, {secret, "bob", 0}} {
		if _, err := auth.Mint([]byte(bad.secret), bad.sub, nil, bad.ttl, "", ""); err == nil {
			t.Errorf("Mint(secret of %d bytes, sub %q, ttl %v) succeeded, want an error", len(bad.secret), bad.sub, bad.ttl)
		}
	}
}

func TestVerifyES256RejectedWithSecret(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{JWTSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(sign(t, jwt.SigningMethodES256, ec, claims(nil))); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify: got %v, want %v", err, auth.ErrInvalidToken)
	}
}
