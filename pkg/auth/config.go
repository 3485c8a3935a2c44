// Package auth verifies bearer JWTs (HS256 with a shared secret, or RS256/ES256 from a JWKS URL),
// guards gin routes by scope, and mints HS256 tokens for local use.
package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// MinSecretLen is the shortest accepted HS256 secret: RFC 7518 section 3.2 wants a key at least
// as long as the hash output (256 bits).
const MinSecretLen = 32

// Config is read from the environment with caarlos0/env. Exactly one key source is required
// unless Disabled, so a service never comes up open by accident.
type Config struct {
	JWTSecret string `env:"AUTH_JWT_SECRET"`
	JWKSURL   string `env:"AUTH_JWKS_URL"`
	Issuer    string `env:"AUTH_ISSUER"`
	Audience  string `env:"AUTH_AUDIENCE"`
	Disabled  bool   `env:"AUTH_DISABLED" envDefault:"false"`
}

// Validate reports the first problem as one line naming the variable. Disabled wins over the
// key settings, so a developer can switch auth off without unsetting them.
func (c Config) Validate() error {
	if c.Disabled {
		return nil
	}
	switch {
	case c.JWTSecret == "" && c.JWKSURL == "":
		return errors.New("AUTH_JWT_SECRET (or AUTH_JWKS_URL) is required; set AUTH_DISABLED=true to run without authentication")
	case c.JWTSecret != "" && c.JWKSURL != "":
		return errors.New("AUTH_JWT_SECRET and AUTH_JWKS_URL are both set; set only one")
	case c.JWTSecret != "" && len(c.JWTSecret) < MinSecretLen:
		return fmt.Errorf("AUTH_JWT_SECRET must be at least %d bytes for HS256, got %d", MinSecretLen, len(c.JWTSecret))
	case c.JWKSURL != "":
		return validateJWKSURL(c.JWKSURL)
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
	return fmt.Sprintf("{JWTSecret:%s JWKSURL:%s Issuer:%s Audience:%s Disabled:%t}",
		secret, c.JWKSURL, c.Issuer, c.Audience, c.Disabled)
}

// GoString covers %#v, which ignores String.
func (c Config) GoString() string { return "auth.Config" + c.String() }
