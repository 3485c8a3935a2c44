// Package config is the query service's environment: the shared blocks and
// the settings of its own.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
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
	// CursorSecret is the list cursors' HMAC keys, comma-separated: the
	// first signs, every one verifies, so a key is rotated by putting the new
	// one first and dropping the old one once its cursors have aged out.
	CursorSecret string `env:"CURSOR_SECRET"`
	Auth         auth.Config
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
	}
	for _, k := range c.cursorSecrets() {
		if len(k) < MinCursorSecretLen {
			return fmt.Errorf("CURSOR_SECRET: each key must be at least %d bytes", MinCursorSecretLen)
		}
	}
	if c.Development() {
		return nil
	}
	if c.CursorSecret == "" {
		// Each instance would make its own key, and a cursor from one would be
		// a 400 on the next.
		return errors.New("CURSOR_SECRET is required unless ENV=development: all instances must share the cursor key")
	}
	return c.Auth.CheckNotDevelopment()
}

func (c Config) cursorSecrets() []string {
	if c.CursorSecret == "" {
		return nil
	}
	return strings.Split(c.CursorSecret, ",")
}

// ReadURL is READ_DATABASE_URL, else DATABASE_URL.
func (c Config) ReadURL() string {
	if c.ReadDatabaseURL != "" {
		return c.ReadDatabaseURL
	}
	return c.DB.URL
}

// CursorKeys are the HMAC keys of list cursors, the signing one first:
// CURSOR_SECRET's, else (ENV=development only) a random key of this process.
func (c Config) CursorKeys() [][]byte {
	var keys [][]byte
	for _, k := range c.cursorSecrets() {
		keys = append(keys, []byte(k))
	}
	if len(keys) == 0 {
		key := make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails on supported platforms
		keys = append(keys, key)
	}
	return keys
}
