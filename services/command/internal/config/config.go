// Package config is the command service's environment: the shared blocks
// and the settings of its own.
package config

import (
	"errors"
	"time"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// Serve is the configuration of `command serve`.
type Serve struct {
	svcmain.Base
	HTTP           lifecycle.HTTPConfig
	DB             pgpool.Config
	MigrateOnStart bool `env:"MIGRATE_ON_START" envDefault:"false"`
	NATS           natsconn.Config
	Stream         ticketevent.StreamNames
	StreamReplicas int           `env:"STREAM_REPLICAS" envDefault:"1"`
	StreamMaxAge   time.Duration `env:"STREAM_MAX_AGE" envDefault:"168h"`
	EventSource    string        `env:"EVENT_SOURCE" envDefault:"/ticketsys/command"`
	Relay          Relay
	Auth           auth.Config
}

// Relay is how the outbox is relayed and kept.
type Relay struct {
	Enabled      bool          `env:"OUTBOX_RELAY_ENABLED" envDefault:"true"`
	PollInterval time.Duration `env:"OUTBOX_POLL_INTERVAL" envDefault:"1s"`
	BatchSize    int           `env:"OUTBOX_BATCH_SIZE" envDefault:"256"`
	Retention    time.Duration `env:"OUTBOX_RETENTION" envDefault:"24h"`
}

// DefaultServe is the configuration before the environment.
func DefaultServe() Serve {
	return Serve{HTTP: lifecycle.HTTPConfig{Addr: ":8081"}}
}

// Validate checks the command service's own settings; the blocks check
// theirs.
func (c Serve) Validate() error {
	switch {
	case c.StreamReplicas < 1 || c.StreamReplicas > 5:
		return errors.New("STREAM_REPLICAS: must be 1 to 5")
	case c.StreamMaxAge <= 0:
		return errors.New("STREAM_MAX_AGE: must be positive")
	case c.Development():
		return nil
	}
	return c.Auth.CheckNotDevelopment()
}

// Validate checks the relay's settings.
func (r Relay) Validate() error {
	switch {
	case r.PollInterval <= 0:
		return errors.New("OUTBOX_POLL_INTERVAL: must be positive")
	case r.BatchSize < 1 || r.BatchSize > 10000:
		return errors.New("OUTBOX_BATCH_SIZE: must be 1 to 10000")
	case r.Retention <= 0:
		return errors.New("OUTBOX_RETENTION: must be positive")
	}
	return nil
}

// StreamOptions is the events stream as the relay creates it.
func (c Serve) StreamOptions() ticketevent.StreamOptions {
	return ticketevent.StreamOptions{
		Name: c.Stream.Name, SubjectPrefix: c.Stream.SubjectPrefix,
		Replicas: c.StreamReplicas, MaxAge: c.StreamMaxAge,
	}
}

// Migrate is the configuration of `command migrate`: it serves nobody, so it
// needs no key.
type Migrate struct {
	svcmain.Base
	DB pgpool.Config
}
