package auth_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caarlos0/env/v11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			_, err = auth.NewVerifier(tt.cfg)
			assert.Error(t, err, "NewVerifier validates too")
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	// t.Setenv forbids t.Parallel.
	t.Setenv("AUTH_JWT_SECRET", "super-secret-value-that-is-long-enough")
	t.Setenv("AUTH_ISSUER", "https://idp")
	t.Setenv("AUTH_AUDIENCE", "tickets-api")
	cfg, err := env.ParseAs[auth.Config]()
	require.NoError(t, err)
	assert.Equal(t, auth.Config{
		JWTSecret: "super-secret-value-that-is-long-enough", Issuer: "https://idp", Audience: "tickets-api",
	}, cfg)
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		assert.NotContains(t, s, "super-secret", s)
	}
}
