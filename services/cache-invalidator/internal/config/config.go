// Package config reads the cache-invalidator's environment.
package config

import (
	"errors"
	"regexp"
	"time"

	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

// Config is every setting of the cache-invalidator, with the contract's defaults.
type Config struct {
	HTTPAddr        string        `env:"HTTP_ADDR" envDefault:":8083"`
	RedisURL        string        `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisCluster    bool          `env:"REDIS_CLUSTER" envDefault:"false"`
	CacheTTLSeconds int           `env:"CACHE_TTL_SECONDS" envDefault:"600"`
	CacheKeyPrefix  string        `env:"CACHE_KEY_PREFIX"`
	NATSURL         string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSCreds       string        `env:"NATS_CREDS"`
	StreamName      string        `env:"STREAM_NAME" envDefault:"TICKETS"`
	SubjectPrefix   string        `env:"STREAM_SUBJECT_PREFIX" envDefault:"tickets.changed"`
	ConsumerName    string        `env:"CONSUMER_NAME" envDefault:"cache-invalidator"`
	DLQStreamName   string        `env:"DLQ_STREAM_NAME" envDefault:"TICKETS_DLQ"`
	DLQPrefix       string        `env:"DLQ_SUBJECT_PREFIX" envDefault:"tickets.dlq"`
	DLQReplicas     int           `env:"DLQ_REPLICAS" envDefault:"1"`
	DLQMaxAge       time.Duration `env:"DLQ_MAX_AGE" envDefault:"720h"`
	AckWait         time.Duration `env:"ACK_WAIT" envDefault:"30s"`
	MaxDeliver      int           `env:"MAX_DELIVER" envDefault:"10"`
	MaxAckPending   int           `env:"MAX_ACK_PENDING" envDefault:"256"`
	RetryMin        time.Duration `env:"RETRY_BACKOFF_MIN" envDefault:"1s"`
	RetryMax        time.Duration `env:"RETRY_BACKOFF_MAX" envDefault:"30s"`
	ListRebumpDelay time.Duration `env:"LIST_REBUMP_DELAY" envDefault:"0s"`
	Concurrency     int           `env:"WORKER_CONCURRENCY" envDefault:"16"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
}

var (
	streamName    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	subjectPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
	// Redis keys may hold anything, but a prefix with glob characters would
	// make the operator's SCAN patterns lie.
	keyPrefix = regexp.MustCompile(`^[A-Za-z0-9_:.-]*$`)
)

// Load reads and checks the configuration; an error is one line that names
// the variable.
func Load(getenv func(string) string) (Config, error) {
	cfg, err := envconfig.Load[Config](getenv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

// CacheTTL is CACHE_TTL_SECONDS as a duration.
func (c Config) CacheTTL() time.Duration {
	return time.Duration(c.CacheTTLSeconds) * time.Second
}

func (c Config) validate() error {
	if err := c.validateRedis(); err != nil {
		return err
	}
	switch {
	case !streamName.MatchString(c.StreamName):
		return errors.New("config: STREAM_NAME: letters, digits, - and _ only")
	case !subjectPrefix.MatchString(c.SubjectPrefix):
		return errors.New("config: STREAM_SUBJECT_PREFIX: dot-separated tokens without wildcards")
	case !streamName.MatchString(c.ConsumerName):
		return errors.New("config: CONSUMER_NAME: letters, digits, - and _ only")
	case !streamName.MatchString(c.DLQStreamName) || c.DLQStreamName == c.StreamName:
		return errors.New("config: DLQ_STREAM_NAME: letters, digits, - and _ only, and not STREAM_NAME")
	case !subjectPrefix.MatchString(c.DLQPrefix) || c.DLQPrefix == c.SubjectPrefix:
		return errors.New("config: DLQ_SUBJECT_PREFIX: dot-separated tokens without wildcards, not STREAM_SUBJECT_PREFIX")
	case c.DLQReplicas < 1 || c.DLQReplicas > 5:
		return errors.New("config: DLQ_REPLICAS: must be 1 to 5")
	case c.DLQMaxAge <= 0:
		return errors.New("config: DLQ_MAX_AGE: must be positive")
	}
	return c.validateConsumer()
}

func (c Config) validateRedis() error {
	switch {
	case c.CacheTTLSeconds < 1:
		return errors.New("config: CACHE_TTL_SECONDS: must be positive")
	case !keyPrefix.MatchString(c.CacheKeyPrefix):
		return errors.New("config: CACHE_KEY_PREFIX: letters, digits, _ : . and - only")
	}
	return redisconn.Validate(c.RedisURL, c.RedisCluster)
}

func (c Config) validateConsumer() error {
	switch {
	case c.AckWait < time.Second:
		return errors.New("config: ACK_WAIT: must be at least 1s")
	case c.MaxDeliver < 2 || c.MaxDeliver > 100:
		return errors.New("config: MAX_DELIVER: must be 2 to 100")
	case c.MaxAckPending < 1 || c.MaxAckPending > 100000:
		return errors.New("config: MAX_ACK_PENDING: must be 1 to 100000")
	case c.RetryMin <= 0:
		return errors.New("config: RETRY_BACKOFF_MIN: must be positive")
	case c.ListRebumpDelay < 0:
		return errors.New("config: LIST_REBUMP_DELAY: must not be negative")
	case c.RetryMax < c.RetryMin:
		return errors.New("config: RETRY_BACKOFF_MAX: must be at least RETRY_BACKOFF_MIN")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return errors.New("config: WORKER_CONCURRENCY: must be 1 to 1024")
	case c.Concurrency > c.MaxAckPending:
		return errors.New("config: WORKER_CONCURRENCY: must not exceed MAX_ACK_PENDING")
	case c.ShutdownTimeout <= 0:
		return errors.New("config: SHUTDOWN_TIMEOUT: must be positive")
	}
	return nil
}
