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
	DBTimeouts     DBTimeouts
	MigrateOnStart bool `env:"MIGRATE_ON_START" envDefault:"false"`
	NATS           natsconn.Config
	Stream         ticketevent.StreamNames
	StreamReplicas int           `env:"STREAM_REPLICAS" envDefault:"1"`
	StreamMaxAge   time.Duration `env:"STREAM_MAX_AGE" envDefault:"168h"`
	EventSource    string        `env:"EVENT_SOURCE" envDefault:"/ticketsys/command"`
	Relay          Relay
	Auth           auth.Config
}

// DBTimeouts bound the write sessions, so a write stuck behind a lock or a
// slow statement answers 503 instead of holding the request; 0 leaves the
// server's setting.
type DBTimeouts struct {
	Statement         time.Duration `env:"DB_STATEMENT_TIMEOUT" envDefault:"5s"`
	Lock              time.Duration `env:"DB_LOCK_TIMEOUT" envDefault:"2s"`
	IdleInTransaction time.Duration `env:"DB_IDLE_IN_TX_TIMEOUT" envDefault:"10s"`
}

// Validate checks the timeouts.
func (d DBTimeouts) Validate() error {
	switch {
	case d.Statement < 0:
		return errors.New("DB_STATEMENT_TIMEOUT: must not be negative")
	case d.Lock < 0:
		return errors.New("DB_LOCK_TIMEOUT: must not be negative")
	case d.IdleInTransaction < 0:
		return errors.New("DB_IDLE_IN_TX_TIMEOUT: must not be negative")
	}
	return nil
}

// Pool is the write pool's timeouts.
func (d DBTimeouts) Pool() pgpool.Timeouts {
	return pgpool.Timeouts{Statement: d.Statement, Lock: d.Lock, IdleInTransaction: d.IdleInTransaction}
}

// Relay is how the outbox is relayed and kept.
type Relay struct {
	Enabled      bool          `env:"OUTBOX_RELAY_ENABLED" envDefault:"true"`
	PollInterval time.Duration `env:"OUTBOX_POLL_INTERVAL" envDefault:"1s"`
	BatchSize    int           `env:"OUTBOX_BATCH_SIZE" envDefault:"256"`
	Retention    time.Duration `env:"OUTBOX_RETENTION" envDefault:"24h"`
	// The relay's session also prunes sent rows in one DELETE (a large one
	// after an outage), so its statements get longer than a request's.
	StatementTimeout time.Duration `env:"OUTBOX_STATEMENT_TIMEOUT" envDefault:"30s"`
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
	case r.StatementTimeout < 0:
		return errors.New("OUTBOX_STATEMENT_TIMEOUT: must not be negative")
	}
	return nil
}

// RelayTimeouts are the relay session's: its own statement timeout, the
// pool's lock timeout. Its session idles outside transactions (LISTEN, the
// advisory lock), which idle_in_transaction_session_timeout never ends.
func (c Serve) RelayTimeouts() pgpool.Timeouts {
	t := c.DBTimeouts.Pool()
	t.Statement = c.Relay.StatementTimeout
	return t
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
