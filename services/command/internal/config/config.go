// Package config reads the command service's environment.
package config

import (
	"errors"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/envconfig"
)

// Config is every setting of the command service, with the contract's defaults.
type Config struct {
	HTTPAddr        string        `env:"HTTP_ADDR" envDefault:":8081"`
	DatabaseURL     string        `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable"`
	MigrateOnStart  bool          `env:"MIGRATE_ON_START" envDefault:"false"`
	NATSURL         string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	NATSCreds       string        `env:"NATS_CREDS"`
	StreamName      string        `env:"STREAM_NAME" envDefault:"TICKETS"`
	SubjectPrefix   string        `env:"STREAM_SUBJECT_PREFIX" envDefault:"tickets.changed"`
	StreamReplicas  int           `env:"STREAM_REPLICAS" envDefault:"1"`
	StreamMaxAge    time.Duration `env:"STREAM_MAX_AGE" envDefault:"168h"`
	EventSource     string        `env:"EVENT_SOURCE" envDefault:"/ticketsys/command"`
	RelayEnabled    bool          `env:"OUTBOX_RELAY_ENABLED" envDefault:"true"`
	PollInterval    time.Duration `env:"OUTBOX_POLL_INTERVAL" envDefault:"1s"`
	BatchSize       int           `env:"OUTBOX_BATCH_SIZE" envDefault:"256"`
	Retention       time.Duration `env:"OUTBOX_RETENTION" envDefault:"24h"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	LogLevel        string        `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat       string        `env:"LOG_FORMAT" envDefault:"json"`
	Auth            auth.Config
}

var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
var subjectPrefix = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// Load reads and checks the configuration; an error is one line that names
// the variable. Authentication is checked by the commands that serve
// requests (Config.Auth.Validate), so `migrate` runs without a key.
func Load(getenv func(string) string) (Config, error) {
	cfg, err := envconfig.Load[Config](getenv)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		return errors.New("config: DATABASE_URL: not a valid PostgreSQL URL")
	}
	switch {
	case c.StreamReplicas < 1 || c.StreamReplicas > 5:
		return errors.New("config: STREAM_REPLICAS: must be 1 to 5")
	case c.StreamMaxAge <= 0:
		return errors.New("config: STREAM_MAX_AGE: must be positive")
	case !streamName.MatchString(c.StreamName):
		return errors.New("config: STREAM_NAME: letters, digits, - and _ only")
	case !subjectPrefix.MatchString(c.SubjectPrefix):
		return errors.New("config: STREAM_SUBJECT_PREFIX: dot-separated tokens without wildcards")
	case c.PollInterval <= 0:
		return errors.New("config: OUTBOX_POLL_INTERVAL: must be positive")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return errors.New("config: OUTBOX_BATCH_SIZE: must be 1 to 10000")
	case c.Retention <= 0:
		return errors.New("config: OUTBOX_RETENTION: must be positive")
	case c.ShutdownTimeout <= 0:
		return errors.New("config: SHUTDOWN_TIMEOUT: must be positive")
	}
	return nil
}
