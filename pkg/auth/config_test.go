package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/auth/authtest"
)

func p256Key(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePublic(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "public.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidate(t *testing.T) {
	t.Parallel()
	keys := authtest.NewKeys(t)
	pubFile, privFile := keys.PublicFile, keys.PrivateFile
	p256File, rsaFile := writePublic(t, p256Key(t).Public()), writePublic(t, &rsaKey.PublicKey)
	tests := []struct {
		name string
		cfg  auth.Config
		want string // substring of the error; "" means valid
	}{
		{"nothing set", auth.Config{}, "AUTH_JWT_SECRET"},
		{"disabled", auth.Config{Disabled: true}, ""},
		{"disabled wins", auth.Config{Disabled: true, JWTSecret: "short"}, ""},
		{"short secret", auth.Config{JWTSecret: "short"}, "AUTH_JWT_SECRET must be at least 32 bytes"},
		{"good secret", auth.Config{JWTSecret: strings.Repeat("s", 32)}, ""},
		{"two sources", auth.Config{JWTSecret: strings.Repeat("s", 32), JWKSURL: "https://idp/jwks"}, "only one"},
		{"key and secret", auth.Config{JWTSecret: strings.Repeat("s", 32), PublicKeyFile: pubFile}, "only one"},
		{"public key", auth.Config{PublicKeyFile: pubFile}, ""},
		{"P-256 public key", auth.Config{PublicKeyFile: p256File}, ""},
		{"RSA public key", auth.Config{PublicKeyFile: rsaFile}, "want an Ed25519 or P-256 key"},
		{"private key as public", auth.Config{PublicKeyFile: privFile}, "not a PEM public key"},
		{"missing key file", auth.Config{PublicKeyFile: "/nonexistent/public.pem"}, "AUTH_PUBLIC_KEY_FILE: cannot be read"},
		{"negative lifetime", auth.Config{JWTSecret: strings.Repeat("s", 32), MaxLifetime: -time.Hour}, "AUTH_MAX_TOKEN_LIFETIME"},
		{"jwks https", auth.Config{JWKSURL: "https://idp.example/.well-known/jwks.json"}, ""},
		{"jwks http loopback", auth.Config{JWKSURL: "http://127.0.0.1:8080/jwks"}, ""},
		{"jwks http localhost", auth.Config{JWKSURL: "http://localhost/jwks"}, ""},
		{"jwks http remote", auth.Config{JWKSURL: "http://idp.example/jwks"}, "AUTH_JWKS_URL must use https"},
		{"jwks relative", auth.Config{JWKSURL: "/jwks"}, "AUTH_JWKS_URL"},
		{"jwks other scheme", auth.Config{JWKSURL: "file:///etc/jwks"}, "AUTH_JWKS_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tt.want)
			}
			if _, err := auth.NewVerifier(tt.cfg); err == nil {
				t.Error("NewVerifier accepted the config: it should validate too")
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	// t.Setenv forbids t.Parallel.
	t.Setenv("AUTH_JWT_SECRET", "super-secret-value-that-is-long-enough")
	t.Setenv("AUTH_ISSUER", "https://idp")
	t.Setenv("AUTH_AUDIENCE", "tickets-api")
	cfg, err := env.ParseAs[auth.Config]()
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Config{
		JWTSecret: "super-secret-value-that-is-long-enough", Issuer: "https://idp", Audience: "tickets-api",
		MaxLifetime: auth.DefaultMaxLifetime,
	}
	if !reflect.DeepEqual(cfg, want) {
		// Config redacts its secret when printed, so compare it separately.
		t.Errorf("config %+v (secret equal: %v), want %+v", cfg, cfg.JWTSecret == want.JWTSecret, want)
	}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "super-secret") {
			t.Errorf("printed config shows the secret: %s", s)
		}
	}
}

// Outside development, the keys everyone knows are refused: the published development secret, a
// placeholder left in, the committed development key pair, and auth switched off.
func TestCheckNotDevelopment(t *testing.T) {
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	devKey := filepath.Join(filepath.Dir(file), "../../deploy/dev-keys/public.pem")
	for name, cfg := range map[string]auth.Config{
		"dev secret":  {JWTSecret: auth.DevSecret},
		"placeholder": {JWTSecret: "please-change-me-before-going-live-0123"},
		"dev key":     {PublicKeyFile: devKey},
		"disabled":    {Disabled: true},
	} {
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := cfg.CheckNotDevelopment(); err == nil || !strings.Contains(err.Error(), "ENV=development") {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, cfg := range map[string]auth.Config{
		"own secret": {JWTSecret: strings.Repeat("k", 40)},
		"own key":    {PublicKeyFile: authtest.NewKeys(t).PublicFile},
		"jwks":       {JWKSURL: "https://idp.example/jwks"},
	} {
		if err := cfg.CheckNotDevelopment(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The development pair is what deploy/dev-keys holds: its private half signs what the
	// public half verifies.
	signer, err := auth.KeySigner(filepath.Join(filepath.Dir(devKey), "private.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{PublicKeyFile: devKey})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := signer.Mint("dev", []string{"tickets:read"}, time.Hour, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("the development pair does not match: %v", err)
	}
}
