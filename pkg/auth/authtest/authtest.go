// Package authtest makes key pairs and the attack matrix that a guarded route must refuse, for the
// unit tests of pkg/auth and the black-box tests of the running services alike.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketsys/ticketsys/pkg/auth"
)

// Keys is an Ed25519 key pair in PEM files, as a deployment holds them: the services read
// PublicFile (AUTH_PUBLIC_KEY_FILE), whoever mints tokens reads PrivateFile.
type Keys struct {
	PublicFile, PrivateFile string
	Signer                  auth.Signer
	public                  []byte
	private                 ed25519.PrivateKey
}

// NewKeys writes a fresh key pair under t.TempDir().
func NewKeys(t testing.TB) Keys {
	t.Helper()
	priv, pub, err := auth.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k := Keys{PublicFile: filepath.Join(dir, "public.pem"), PrivateFile: filepath.Join(dir, "private.pem"), public: pub}
	if err := os.WriteFile(k.PublicFile, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PrivateFile, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	key, _, err := auth.ReadPrivateKey(k.PrivateFile)
	if err != nil {
		t.Fatal(err)
	}
	k.private = key.(ed25519.PrivateKey)
	if k.Signer, err = auth.KeySigner(k.PrivateFile); err != nil {
		t.Fatal(err)
	}
	return k
}

// Token signs a token for sub with scopes, valid for an hour.
func (k Keys) Token(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	tok, err := k.Signer.Mint(sub, scopes, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Case is one Authorization header and the status it must get.
type Case struct {
	Name          string
	Authorization string
	Status        int
}

// Matrix is the attacks on a route guarded by scope, for a service that verifies with k's public
// key and the given issuer and audience ("" when the service checks none). Every case but the
// last is refused with 401 or 403; the last is a good token, so a matrix that cannot fail is
// noticed.
func Matrix(t testing.TB, k Keys, scope, issuer, audience string) []Case {
	t.Helper()
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "mallory", "scope": scope, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if issuer != "" {
			c["iss"] = issuer
		}
		if audience != "" {
			c["aud"] = audience
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
		tok := jwt.NewWithClaims(m, c)
		for h, v := range header {
			tok.Header[h] = v
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatalf("sign %s: %v", m.Alg(), err)
		}
		return "Bearer " + s
	}
	ed := func(mod func(jwt.MapClaims)) string { return sign(jwt.SigningMethodEdDSA, k.private, claims(mod), nil) }
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	good := ed(nil)
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := "Bearer " + b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64(mustJSON(claims(nil))) + "."
	// The signature of a good token under another header: a check that reads alg from the
	// token instead of pinning it would take it.
	parts := strings.SplitN(strings.TrimPrefix(good, "Bearer "), ".", 3)
	swapped := "Bearer " + b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2]
	cases := []Case{
		{"no Authorization", "", http.StatusUnauthorized},
		{"Basic scheme", "Basic bWFsbG9yeTpwdw==", http.StatusUnauthorized},
		{"bearer without a token", "Bearer", http.StatusUnauthorized},
		{"token without a scheme", strings.TrimPrefix(good, "Bearer "), http.StatusUnauthorized},
		{"garbage", "Bearer garbage", http.StatusUnauthorized},
		{"three garbage parts", "Bearer a.b.c", http.StatusUnauthorized},
		{"huge token", "Bearer " + strings.Repeat("A", 6000) + "." + strings.Repeat("B", 6000) + ".c", http.StatusUnauthorized},
		{"metacharacters", "Bearer ' OR 1=1 --\r\n*1\r\n$4\r\nPING", http.StatusUnauthorized},
		{"alg none", unsigned, http.StatusUnauthorized},
		{"alg none, signed by jwt", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), nil), http.StatusUnauthorized},
		{"HS256 with the public key as secret", sign(jwt.SigningMethodHS256, k.public, claims(nil), nil), http.StatusUnauthorized},
		{"good signature under an HS256 header", swapped, http.StatusUnauthorized},
		{"signed by another key", sign(jwt.SigningMethodEdDSA, stranger, claims(nil), nil), http.StatusUnauthorized},
		{"unknown kid", sign(jwt.SigningMethodEdDSA, stranger, claims(nil), map[string]any{"kid": "rotated-in-by-mallory"}), http.StatusUnauthorized},
		{"tampered claims", tamper(good), http.StatusUnauthorized},
		{"expired", ed(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}), http.StatusUnauthorized},
		{"no exp", ed(func(c jwt.MapClaims) { delete(c, "exp") }), http.StatusUnauthorized},
		{"not yet valid", ed(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), http.StatusUnauthorized},
		{"iat in the future", ed(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
		}), http.StatusUnauthorized},
		{"lifetime of a century", ed(func(c jwt.MapClaims) { c["exp"] = now.AddDate(100, 0, 0).Unix() }), http.StatusUnauthorized},
		{"lifetime of a century, no iat", ed(func(c jwt.MapClaims) {
			delete(c, "iat")
			c["exp"] = now.AddDate(100, 0, 0).Unix()
		}), http.StatusUnauthorized},
		{"exp past 2^53", ed(func(c jwt.MapClaims) { c["exp"] = 1 << 62 }), http.StatusUnauthorized},
		{"exp not a number", ed(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), http.StatusUnauthorized},
		{"no subject", ed(func(c jwt.MapClaims) { delete(c, "sub") }), http.StatusUnauthorized},
		{"wrong issuer", ed(func(c jwt.MapClaims) { c["iss"] = "https://mallory.example" }), wantIf(issuer != "")},
		{"wrong audience", ed(func(c jwt.MapClaims) { c["aud"] = "another-api" }), wantIf(audience != "")},
		{"an ID token", sign(jwt.SigningMethodEdDSA, k.private, claims(nil), map[string]any{"typ": "id+jwt"}), http.StatusUnauthorized},
		{"scope as an object", ed(func(c jwt.MapClaims) { c["scope"] = map[string]any{"x": 1} }), http.StatusUnauthorized},
		{"wrong scope", ed(func(c jwt.MapClaims) { c["scope"] = "tickets:other" }), http.StatusForbidden},
		{"scope that only starts right", ed(func(c jwt.MapClaims) { c["scope"] = scope + "x" }), http.StatusForbidden},
		{"good token", good, http.StatusOK},
	}
	return cases
}

// wantIf is 401 when the service checks the claim, else the good token's 200.
func wantIf(checked bool) int {
	if checked {
		return http.StatusUnauthorized
	}
	return http.StatusOK
}

// tamper changes the payload of a signed token and keeps its signature.
func tamper(bearer string) string {
	parts := strings.SplitN(strings.TrimPrefix(bearer, "Bearer "), ".", 3)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"mallory"`, `"admin00"`, 1))
	return "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
