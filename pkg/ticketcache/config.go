package ticketcache

import (
	"errors"
	"regexp"
	"time"
)

// Config is the cache block shared by the query service (which fills the
// cache) and the cache-invalidator (which keeps it fresh): both must agree on
// it, so both embed this one declaration.
type Config struct {
	TTLSeconds int `env:"CACHE_TTL_SECONDS" envDefault:"600"`
	// KeyPrefix is empty in production; tests set their own so they can
	// share one Redis.
	KeyPrefix string `env:"CACHE_KEY_PREFIX"`
}

// A prefix with glob characters would make the operator's SCAN patterns lie.
var keyPrefix = regexp.MustCompile(`^[A-Za-z0-9_:.-]*$`)

// Validate checks both values; the error names the variable.
func (c Config) Validate() error {
	switch {
	case c.TTLSeconds < 1:
		return errors.New("CACHE_TTL_SECONDS: must be at least 1")
	case !keyPrefix.MatchString(c.KeyPrefix):
		return errors.New("CACHE_KEY_PREFIX: letters, digits, _ : . and - only")
	}
	return nil
}

// TTL is CACHE_TTL_SECONDS as a duration.
func (c Config) TTL() time.Duration { return time.Duration(c.TTLSeconds) * time.Second }

// Keys is the key scheme under the prefix.
func (c Config) Keys() Keys { return Keys{Prefix: c.KeyPrefix} }
