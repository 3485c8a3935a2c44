package auth_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"

	"github.com/ticketsys/ticketsys/pkg/auth"
)

func TestValidate(t *testing.T) {
	t.Parallel()
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
		{"both sources", auth.Config{JWTSecret: strings.Repeat("s", 32), JWKSURL: "https://idp/jwks"}, "both"},
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
