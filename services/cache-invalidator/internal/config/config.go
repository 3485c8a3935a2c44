// Package config is the cache-invalidator's environment: the shared blocks
// and the settings of its own.
package config

import (
	"cmp"
	"errors"
	"time"

	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// Config is every setting of the cache-invalidator, with the contract's defaults.
type Config struct {
	svcmain.Base
	HTTP          lifecycle.HTTPConfig
	Redis         redisconn.Config
	Cache         ticketcache.Config
	NATS          natsconn.Config
	Stream        ticketevent.StreamNames
	ConsumerName  string        `env:"CONSUMER_NAME" envDefault:"cache-invalidator"`
	DLQStreamName string        `env:"DLQ_STREAM_NAME" envDefault:"TICKETS_DLQ"`
	DLQPrefix     string        `env:"DLQ_SUBJECT_PREFIX" envDefault:"tickets.dlq"`
	DLQReplicas   int           `env:"DLQ_REPLICAS" envDefault:"1"`
	DLQMaxAge     time.Duration `env:"DLQ_MAX_AGE" envDefault:"720h"`
	DLQMaxMsgs    int64         `env:"DLQ_MAX_MSGS" envDefault:"100000"`     // bounded: the DLQ shares the JetStream store
	DLQMaxBytes   int64         `env:"DLQ_MAX_BYTES" envDefault:"268435456"` // 256 MiB
	AckWait       time.Duration `env:"ACK_WAIT" envDefault:"30s"`
	MaxDeliver    int           `env:"MAX_DELIVER" envDefault:"10"`
	MaxAckPending int           `env:"MAX_ACK_PENDING" envDefault:"256"`
	RetryMin      time.Duration `env:"RETRY_BACKOFF_MIN" envDefault:"1s"`
	RetryMax      time.Duration `env:"RETRY_BACKOFF_MAX" envDefault:"30s"`
	// 1s, not off: the query service refills lists from READ_DATABASE_URL,
	// a replica in production, and a page it reads just after a change's
	// bump, before the replica has the change, would be cached under the
	// new generation for CACHE_TTL_SECONDS. The second bump retires it; a
	// replica lagging more than the delay still leaks such a page, so keep
	// it above the replica's worst lag.
	ListRebumpDelay time.Duration `env:"LIST_REBUMP_DELAY" envDefault:"1s"`
	Concurrency     int           `env:"WORKER_CONCURRENCY" envDefault:"16"`
	// A pull request the server lost (a consumer leader change) is noticed
	// after two missed heartbeats, or at its expiry without heartbeats.
	PullExpiry    time.Duration `env:"PULL_EXPIRY" envDefault:"5s"`
	PullHeartbeat time.Duration `env:"PULL_HEARTBEAT" envDefault:"500ms"`
	// Replicas each cache write waits for (Redis WAIT); 0 waits for none.
	RedisWaitReplicas int `env:"REDIS_WAIT_REPLICAS" envDefault:"0"`
	// How often Redis is checked for lost data, and how far back the events
	// are applied again when it lost some; 0 turns the check off.
	LossCheckInterval time.Duration `env:"REDIS_LOSS_CHECK_INTERVAL" envDefault:"1s"`
	ReplayWindow      time.Duration `env:"LOSS_REPLAY_WINDOW" envDefault:"30s"`
}

// MinReplayWindow is how much longer than REDIS_LOSS_CHECK_INTERVAL
// LOSS_REPLAY_WINDOW must be: a fill that read Postgres before a newer
// version committed can land after a loss for as long as a fill takes (the
// query service cuts its loads off after 5 s), so the replay must reach
// back that far before the loss, which happened up to a check interval
// before it was seen. Twice that, for a margin.
const MinReplayWindow = 10 * time.Second

// Default is the configuration before the environment.
func Default() Config {
	return Config{HTTP: lifecycle.HTTPConfig{Addr: ":8083"}}
}

// Load reads the environment over Default; an error is one line that names
// the variable.
func Load(getenv func(string) string) (Config, error) {
	return envconfig.Load(getenv, Default())
}

// Validate checks the invalidator's own settings; the blocks check theirs.
func (c Config) Validate() error {
	if err := cmp.Or(ticketevent.CheckName("CONSUMER_NAME", c.ConsumerName),
		ticketevent.CheckName("DLQ_STREAM_NAME", c.DLQStreamName),
		ticketevent.CheckSubjectPrefix("DLQ_SUBJECT_PREFIX", c.DLQPrefix)); err != nil {
		return err
	}
	switch {
	case c.DLQStreamName == c.Stream.Name:
		return errors.New("DLQ_STREAM_NAME: must not be STREAM_NAME")
	case c.DLQPrefix == c.Stream.SubjectPrefix:
		return errors.New("DLQ_SUBJECT_PREFIX: must not be STREAM_SUBJECT_PREFIX")
	case c.DLQReplicas < 1 || c.DLQReplicas > 5:
		return errors.New("DLQ_REPLICAS: must be 1 to 5")
	case c.DLQMaxAge <= 0:
		return errors.New("DLQ_MAX_AGE: must be positive")
	case c.DLQMaxMsgs < 1:
		return errors.New("DLQ_MAX_MSGS: must be positive")
	case c.DLQMaxBytes < 1<<20:
		return errors.New("DLQ_MAX_BYTES: must be at least 1048576 (1 MiB)")
	case c.AckWait < time.Second:
		return errors.New("ACK_WAIT: must be at least 1s")
	case c.MaxDeliver < 2 || c.MaxDeliver > 100:
		return errors.New("MAX_DELIVER: must be 2 to 100")
	case c.MaxAckPending < 1 || c.MaxAckPending > 100000:
		return errors.New("MAX_ACK_PENDING: must be 1 to 100000")
	case c.RetryMin <= 0:
		return errors.New("RETRY_BACKOFF_MIN: must be positive")
	case c.RetryMax < c.RetryMin:
		return errors.New("RETRY_BACKOFF_MAX: must be at least RETRY_BACKOFF_MIN")
	case c.ListRebumpDelay < 0:
		return errors.New("LIST_REBUMP_DELAY: must not be negative")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return errors.New("WORKER_CONCURRENCY: must be 1 to 1024")
	case c.Concurrency > c.MaxAckPending:
		return errors.New("WORKER_CONCURRENCY: must not exceed MAX_ACK_PENDING")
	}
	return c.validatePulls()
}

// validatePulls checks the pull and Redis settings against nats.go's and
// nats-server's rules: an expiry of at least 1s (nats.go), a heartbeat of
// 500ms to 30s (nats.go) and at most half the expiry (nats.go refuses more
// in Messages, the server in the pull request itself).
func (c Config) validatePulls() error {
	switch {
	case c.PullExpiry < time.Second:
		return errors.New("PULL_EXPIRY: must be at least 1s")
	case c.PullHeartbeat < 500*time.Millisecond || c.PullHeartbeat > 30*time.Second:
		return errors.New("PULL_HEARTBEAT: must be 500ms to 30s")
	case 2*c.PullHeartbeat > c.PullExpiry:
		return errors.New("PULL_HEARTBEAT: must be at most half of PULL_EXPIRY")
	case c.RedisWaitReplicas < 0 || c.RedisWaitReplicas > 5:
		return errors.New("REDIS_WAIT_REPLICAS: must be 0 to 5")
	case c.LossCheckInterval < 0:
		return errors.New("REDIS_LOSS_CHECK_INTERVAL: must not be negative")
	case c.LossCheckInterval > 0 && c.LossCheckInterval < 100*time.Millisecond:
		return errors.New("REDIS_LOSS_CHECK_INTERVAL: must be 0 (off) or at least 100ms")
	case c.ReplayWindow < MinReplayWindow+c.LossCheckInterval:
		return errors.New("LOSS_REPLAY_WINDOW: must be at least 10s plus REDIS_LOSS_CHECK_INTERVAL")
	}
	return nil
}
