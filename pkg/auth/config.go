// Package auth verifies bearer JWTs, guards gin routes by scope, and mints tokens for local use.
// Keys come from one source: a public key (EdDSA or ES256; the service that verifies holds no
// key that can sign, the default), a JWKS URL (RS256, ES256, EdDSA), or a shared HS256 secret.
package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// MinSecretLen is the shortest accepted HS256 secret: RFC 7518 section 3.2 wants a key at least
// as long as the hash output (256 bits).
const MinSecretLen = 32

// DefaultMaxLifetime is AUTH_MAX_TOKEN_LIFETIME's default: a working day and then some.
const DefaultMaxLifetime = 24 * time.Hour

// Config is read from the environment with caarlos0/env. Exactly one key source is required
// unless Disabled, so a service never comes up open by accident.
type Config struct {
	// PublicKeyFile is a PEM public key (Ed25519 for EdDSA, P-256 for ES256).
	PublicKeyFile string `env:"AUTH_PUBLIC_KEY_FILE"`
	JWKSURL       string `env:"AUTH_JWKS_URL"`
	JWTSecret     string `env:"AUTH_JWT_SECRET"`
	Issuer        string `env:"AUTH_ISSUER"`
	Audience      string `env:"AUTH_AUDIENCE"`
	// MaxLifetime refuses tokens meant to live longer (exp - iat), however
	// well signed: a leaked token of a hundred years is a key of its own.
	// Zero is DefaultMaxLifetime.
	MaxLifetime time.Duration `env:"AUTH_MAX_TOKEN_LIFETIME" envDefault:"24h"`
	Disabled    bool          `env:"AUTH_DISABLED" envDefault:"false"`
}

// Validate reports the first problem as one line naming the variable. Disabled wins over the
// key settings, so a developer can switch auth off without unsetting them.
func (c Config) Validate() error {
	if c.MaxLifetime < 0 {
		return errors.New("AUTH_MAX_TOKEN_LIFETIME: must be positive")
	}
	if c.Disabled {
		return nil
	}
	sources := 0
	for _, v := range []string{c.PublicKeyFile, c.JWKSURL, c.JWTSecret} {
		if v != "" {
			sources++
		}
	}
	switch {
	case sources == 0:
		return errors.New("AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_URL or AUTH_JWT_SECRET is required; set AUTH_DISABLED=true to run without authentication")
	case sources > 1:
		return errors.New("set only one of AUTH_PUBLIC_KEY_FILE, AUTH_JWKS_URL and AUTH_JWT_SECRET")
	case c.JWTSecret != "" && len(c.JWTSecret) < MinSecretLen:
		return fmt.Errorf("AUTH_JWT_SECRET must be at least %d bytes for HS256, got %d", MinSecretLen, len(c.JWTSecret))
	case c.JWKSURL != "":
		return validateJWKSURL(c.JWKSURL)
	case c.PublicKeyFile != "":
		_, _, err := readPublicKey(c.PublicKeyFile)
		return err
	}
	return nil
}

// DevSecret is the HS256 secret of the development stacks (make dev's default and the compose
// file). Everyone can read it here, so it signs nothing outside development.
const DevSecret = "dev-only-secret-change-me-0123456789abcdef"

// CheckNotDevelopment refuses what is known to be a development key (DevSecret, a placeholder
// left in, the development key pair under deploy/dev-keys) and an unauthenticated service:
// outside development each would let anyone mint a token.
func (c Config) CheckNotDevelopment() error {
	switch {
	case c.Disabled:
		return errors.New("AUTH_DISABLED=true: only with ENV=development")
	case c.JWTSecret == DevSecret || strings.Contains(strings.ToUpper(c.JWTSecret), "CHANGE-ME"):
		return errors.New("AUTH_JWT_SECRET is a known development secret: only with ENV=development")
	case c.PublicKeyFile != "":
		if _, pem, err := readPublicKey(c.PublicKeyFile); err == nil && isDevKey(pem) {
			return errors.New("AUTH_PUBLIC_KEY_FILE is the development key pair's: only with ENV=development")
		}
	}
	return nil
}

// validateJWKSURL insists on https: whoever can alter the key set in transit can mint tokens.
// Plain http is allowed only to a loopback host (local IdPs, tests).
func validateJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("AUTH_JWKS_URL must be an absolute https URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("AUTH_JWKS_URL must use https (plain http only to localhost)")
	default:
		return errors.New("AUTH_JWKS_URL must be an absolute https URL")
	}
}

// String keeps the secret out of logs and error messages that print the config.
func (c Config) String() string {
	secret := ""
	if c.JWTSecret != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("{PublicKeyFile:%s JWKSURL:%s JWTSecret:%s Issuer:%s Audience:%s MaxLifetime:%s Disabled:%t}",
		c.PublicKeyFile, c.JWKSURL, secret, c.Issuer, c.Audience, c.MaxLifetime, c.Disabled)
}

// GoString covers %#v, which ignores String.
func (c Config) GoString() string { return "auth.Config" + c.String() }
