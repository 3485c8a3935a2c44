// Package config is the query service's environment: the shared blocks and
// the settings of its own.
package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
)

// MinCursorSecretLen matches the HS256 secret rule: a cursor MAC key is no
// weaker than the token key.
const MinCursorSecretLen = 32

// Config is every setting of the query service, with the contract's defaults.
type Config struct {
	svcmain.Base
	HTTP lifecycle.HTTPConfig
	// DB is the primary, which READ_DATABASE_URL falls back to.
	DB pgpool.Config
	// ReadDatabaseURL is a read replica in production.
	ReadDatabaseURL string `env:"READ_DATABASE_URL"`
	Redis           redisconn.Config
	// RedisTimeout bounds every dial, read and write: an unreachable Redis
	// costs a request at most this long before the breaker opens.
	RedisTimeout time.Duration `env:"REDIS_TIMEOUT" envDefault:"100ms"`
	// RedisRetryInterval is how long the breaker stays open before one
	// request probes Redis again.
	RedisRetryInterval time.Duration `env:"REDIS_RETRY_INTERVAL" envDefault:"1s"`
	Cache              ticketcache.Config
	CursorSecret       string `env:"CURSOR_SECRET"`
	Auth               auth.Config
}

// Default is the configuration before the environment.
func Default() Config {
	return Config{HTTP: lifecycle.HTTPConfig{Addr: ":8082"}}
}

// Load reads the environment over Default; an error is one line that names
// the variable.
func Load(getenv func(string) string) (Config, error) {
	return envconfig.Load(getenv, Default())
}

// Validate checks the query service's own settings; the blocks check theirs.
func (c Config) Validate() error {
	if c.ReadDatabaseURL != "" {
		if err := pgpool.CheckURL("READ_DATABASE_URL", c.ReadDatabaseURL); err != nil {
			return err
		}
	}
	switch {
	case c.RedisTimeout <= 0:
		return errors.New("REDIS_TIMEOUT: must be positive")
	case c.RedisRetryInterval <= 0:
		return errors.New("REDIS_RETRY_INTERVAL: must be positive")
	case c.CursorSecret != "" && len(c.CursorSecret) < MinCursorSecretLen:
		return fmt.Errorf("CURSOR_SECRET: must be at least %d bytes", MinCursorSecretLen)
	}
	return nil
}

// ReadURL is READ_DATABASE_URL, else DATABASE_URL.
func (c Config) ReadURL() string {
	if c.ReadDatabaseURL != "" {
		return c.ReadDatabaseURL
	}
	return c.DB.URL
}

// CursorKey is the HMAC key that signs list cursors. Every instance must use
// the same key, or a cursor issued by one (or cached by one) is refused by
// another: CURSOR_SECRET if set, else a key derived from AUTH_JWT_SECRET
// (which all instances share), else (auth disabled, or keys from JWKS) a
// random key per process: set CURSOR_SECRET when such a setup runs more than
// one instance.
func (c Config) CursorKey() []byte {
	if c.CursorSecret != "" {
		return []byte(c.CursorSecret)
	}
	if c.Auth.JWTSecret != "" {
		// Derived, never the token key itself: a cursor MAC must not be a
		// usable token signature.
		m := hmac.New(sha256.New, []byte(c.Auth.JWTSecret))
		m.Write([]byte("ticketsys query cursor v1"))
		return m.Sum(nil)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
	return key
}
