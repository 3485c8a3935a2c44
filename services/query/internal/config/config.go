// Package config reads the query service's environment.
package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

// DefaultDatabaseURL is the contract's DATABASE_URL default, which
// READ_DATABASE_URL falls back to.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable"

// MinCursorSecretLen matches the HS256 secret rule: a cursor MAC key is no
// weaker than the token key.
const MinCursorSecretLen = 32

// Config is every setting of the query service, with the contract's defaults.
type Config struct {
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":8082"`
	// ReadDatabaseURL is a read replica in production. Unset, it is
	// DATABASE_URL, and unset too, the contract's default.
	ReadDatabaseURL string `env:"READ_DATABASE_URL"`
	DatabaseURL     string `env:"DATABASE_URL"`
	RedisURL        string `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisCluster    bool   `env:"REDIS_CLUSTER" envDefault:"false"`
	// RedisTimeout bounds every dial, read and write: an unreachable Redis
	// costs a request at most this long before the breaker opens.
	RedisTimeout time.Duration `env:"REDIS_TIMEOUT" envDefault:"100ms"`
	// RedisRetryInterval is how long the breaker stays open before one
	// request probes Redis again.
	RedisRetryInterval time.Duration `env:"REDIS_RETRY_INTERVAL" envDefault:"1s"`
	CacheTTLSeconds    int           `env:"CACHE_TTL_SECONDS" envDefault:"600"`
	CacheKeyPrefix     string        `env:"CACHE_KEY_PREFIX"`
	CursorSecret       string        `env:"CURSOR_SECRET"`
	ShutdownTimeout    time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	LogLevel           string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat          string        `env:"LOG_FORMAT" envDefault:"json"`
	Auth               auth.Config
}

// Load reads and checks the configuration; an error is one line that names
// the variable.
func Load(getenv func(string) string) (Config, error) {
	cfg, err := envconfig.Load[Config](getenv)
	if err != nil {
		return cfg, err
	}
	if cfg.ReadDatabaseURL == "" {
		cfg.ReadDatabaseURL = cfg.DatabaseURL
	}
	if cfg.ReadDatabaseURL == "" {
		cfg.ReadDatabaseURL = DefaultDatabaseURL
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	if _, err := pgxpool.ParseConfig(c.ReadDatabaseURL); err != nil {
		return errors.New("config: READ_DATABASE_URL (or DATABASE_URL): not a valid PostgreSQL URL")
	}
	if err := c.validateRedis(); err != nil {
		return err
	}
	switch {
	case c.CacheTTLSeconds < 1:
		return errors.New("config: CACHE_TTL_SECONDS: must be at least 1")
	case c.RedisTimeout <= 0:
		return errors.New("config: REDIS_TIMEOUT: must be positive")
	case c.RedisRetryInterval <= 0:
		return errors.New("config: REDIS_RETRY_INTERVAL: must be positive")
	case c.ShutdownTimeout <= 0:
		return errors.New("config: SHUTDOWN_TIMEOUT: must be positive")
	case c.CursorSecret != "" && len(c.CursorSecret) < MinCursorSecretLen:
		return fmt.Errorf("config: CURSOR_SECRET: must be at least %d bytes", MinCursorSecretLen)
	}
	return c.Auth.Validate()
}

// validateRedis parses the URL the way the client will, so a typo stops the
// process at start instead of turning every read into a BYPASS.
func (c Config) validateRedis() error {
	return redisconn.Validate(c.RedisURL, c.RedisCluster)
}

// CacheTTL is CACHE_TTL_SECONDS as a duration.
func (c Config) CacheTTL() time.Duration {
	return time.Duration(c.CacheTTLSeconds) * time.Second
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
