// Package natsconn opens the NATS connection of a long-running service:
// it starts even while NATS is down, reconnects for ever, uses NATS_CREDS
// when set, and logs disconnects and reconnects.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Config is the NATS block: where the server is and whose credentials to use.
type Config struct {
	URL   string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	Creds string `env:"NATS_CREDS"`
}

// Validate checks that a URL is given; nats.go says more at the first dial.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("NATS_URL: must not be empty")
	}
	return nil
}

// Connect dials c as name; extra options come last and win.
func (c Config) Connect(name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	return Connect(c.URL, c.Creds, name, log, extra...)
}

// InboxPrefix is where the client named name gets its replies: its own, so a
// NATS user may subscribe to its replies only (deploy/nats/auth.conf).
func InboxPrefix(name string) string { return "_INBOX_" + name }

// Connect dials url as name; extra options come last and win.
func Connect(url, creds, name string, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.CustomInboxPrefix(InboxPrefix(name)),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		// Bounds a shutdown's drain when NATS is unreachable at that moment.
		nats.DrainTimeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", "error", err)
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "url", c.ConnectedUrlRedacted())
		}),
	}
	if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	nc, err := nats.Connect(url, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	return nc, nil
}
