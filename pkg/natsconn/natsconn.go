// Package natsconn opens the NATS connection of a long-running service:
// it starts even while NATS is down, reconnects for ever, uses NATS_CREDS
// when set, and logs disconnects and reconnects.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// Liveness makes a connection notice a dead or hung server (a half-open
// TCP connection, a stalled machine, a partition) after about
// (maxOut+1)*interval without an answer to its pings, and reconnect,
// instead of after nats.go's default of 2 minutes times 3.
func Liveness(interval time.Duration, maxOut int) []nats.Option {
	return []nats.Option{nats.PingInterval(interval), nats.MaxPingsOutstanding(maxOut)}
}

// NoLateWrites is for a publisher whose message must reach the server soon
// or never: the outbox relay, whose late copy of an event could be stored
// after the next version another relay published meanwhile.
//
//   - No reconnect buffer (ReconnectBufSize -1): a publish while
//     disconnected fails at once with nats.ErrReconnectBufExceeded instead
//     of waiting in nats.go's 8 MiB buffer for the next connection. What
//     was buffered but not written when the connection broke is dropped
//     with it either way.
//   - A connection that is closed (a stale one among them) discards what
//     the kernel had not sent yet (SO_LINGER 0, a reset), where a normal
//     close would keep sending it, for minutes, to a server that may still
//     hold the connection open.
//
// Use it with Liveness, so a half-open connection is closed soon.
func NoLateWrites() []nats.Option {
	return []nats.Option{nats.ReconnectBufSize(-1), nats.SetCustomDialer(lingerZeroDialer{})}
}

// lingerZeroDialer dials as nats.go does (its default 2 s timeout) and sets
// SO_LINGER 0 on the connection.
type lingerZeroDialer struct{}

func (lingerZeroDialer) Dial(network, address string) (net.Conn, error) {
	d := net.Dialer{Timeout: nats.DefaultTimeout}
	c, err := d.Dial(network, address)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.SetLinger(0); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}
