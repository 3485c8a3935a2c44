package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketsys/ticketsys/pkg/auth"
)

// jwksServer serves a JWK set that the test can change, to simulate key rotation.
type jwksServer struct {
	mu  sync.Mutex
	set *jwkset.MemoryJWKSet
	srv *httptest.Server
}

func newJWKSServer(t *testing.T) *jwksServer {
	t.Helper()
	s := &jwksServer{set: jwkset.NewMemoryStorage()}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		raw, err := s.set.JSONPublic(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(raw)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) add(t *testing.T, kid string, alg jwkset.ALG, pub any) {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig},
	})
	if err != nil {
		t.Fatalf("JWK %s: %v", kid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.set.KeyWrite(context.Background(), jwk); err != nil {
		t.Fatalf("store JWK %s: %v", kid, err)
	}
}

func withKID(t *testing.T, m jwt.SigningMethod, key any, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims(nil))
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign with %s: %v", m.Alg(), err)
	}
	return s
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t)
	srv.add(t, "rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey)
	srv.add(t, "ec-1", jwkset.AlgES256, &ec.PublicKey)

	v, err := auth.NewVerifier(auth.Config{JWKSURL: srv.srv.URL + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)

	pubDER, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256 with kid", withKID(t, jwt.SigningMethodRS256, rsaKey, "rsa-1"), true},
		{"ES256 with kid", withKID(t, jwt.SigningMethodES256, ec, "ec-1"), true},
		{"RS256 without kid", withKID(t, jwt.SigningMethodRS256, rsaKey, ""), true},
		{"kid of the other key", withKID(t, jwt.SigningMethodRS256, rsaKey, "ec-1"), false},
		{"RS384 not pinned", withKID(t, jwt.SigningMethodRS384, rsaKey, "rsa-1"), false},
		// Algorithm confusion: the public key used as an HMAC secret.
		{"HS256 with public key", withKID(t, jwt.SigningMethodHS256, pubDER, "rsa-1"), false},
		{"HS256 with a secret", withKID(t, jwt.SigningMethodHS256, []byte(secret), ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := v.Verify(tt.token)
			if !tt.ok {
				if !errors.Is(err, auth.ErrInvalidToken) {
					t.Errorf("Verify: got %v, want %v", err, auth.ErrInvalidToken)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "alice" {
				t.Errorf("subject %q, want %q", c.Subject, "alice")
			}
		})
	}
}

func TestJWKSRotation(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	srv.add(t, "rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey)
	v, err := auth.NewVerifier(auth.Config{JWKSURL: srv.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv.add(t, "ec-new", jwkset.AlgES256, &ec.PublicKey)
	// A kid the verifier has not seen triggers one refresh.
	if _, err := v.Verify(withKID(t, jwt.SigningMethodES256, ec, "ec-new")); err != nil {
		t.Fatalf("a token signed with the new key: %v", err)
	}
}

func TestJWKSUnreachableAtStart(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	url := srv.srv.URL
	srv.srv.Close()
	// Not fatal: the IdP may come up after the service; tokens fail until then.
	v, err := auth.NewVerifier(auth.Config{JWKSURL: url})
	if err != nil {
		t.Fatalf("NewVerifier with the JWKS unreachable: %v, want no error", err)
	}
	t.Cleanup(v.Close)
	if _, err := v.Verify(withKID(t, jwt.SigningMethodRS256, rsaKey, "rsa-1")); !errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("Verify: got %v, want %v", err, auth.ErrInvalidToken)
	}
}

// Junk kids do not lock a rotated-in key out: one that cannot be a key's name is refused
// without a fetch, so the next real new kid is fetched at once; a well-formed junk kid can take the
// refresh turn, and the real one gets in when the next turn comes, seconds later, not minutes.
func TestJWKSJunkKIDsDoNotLockOutRotation(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t)
	srv.add(t, "rsa-1", jwkset.AlgRS256, &rsaKey.PublicKey)
	v, err := auth.NewVerifier(auth.Config{JWKSURL: srv.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	for _, kid := range []string{strings.Repeat("k", 200), "with space", "nul\x00"} {
		if _, err := v.Verify(withKID(t, jwt.SigningMethodRS256, rsaKey, kid)); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("malformed kid %q: %v", kid, err)
		}
	}
	ec1, ec2 := p256Key(t), p256Key(t)
	srv.add(t, "ec-1", jwkset.AlgES256, &ec1.PublicKey)
	if _, err := v.Verify(withKID(t, jwt.SigningMethodES256, ec1, "ec-1")); err != nil {
		t.Fatalf("a rotated-in key after malformed kids: %v", err)
	}

	if _, err := v.Verify(withKID(t, jwt.SigningMethodRS256, rsaKey, "junk-but-well-formed")); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("junk kid: %v", err)
	}
	srv.add(t, "ec-2", jwkset.AlgES256, &ec2.PublicKey)
	start := time.Now()
	deadline := start.Add(3 * auth.UnknownKIDRefresh)
	for {
		_, err := v.Verify(withKID(t, jwt.SigningMethodES256, ec2, "ec-2"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a rotated-in key still refused %s after a junk kid: %v", time.Since(start), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("rotated-in key accepted %s after a junk kid", time.Since(start).Round(time.Second))
}
