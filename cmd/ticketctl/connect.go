package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/pgpool"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

// envConfig is what ticketctl reads from the environment: the services'
// own blocks, with the contract's defaults, and what token signs with.
type envConfig struct {
	NATS  natsconn.Config
	Redis redisconn.Config
	DB    pgpool.Config
	Token tokenEnv
	API   apiEnv
}

// tokenEnv is what `ticketctl token` signs with; the services check the
// same issuer, audience and lifetime.
type tokenEnv struct {
	PrivateKeyFile string        `env:"AUTH_PRIVATE_KEY_FILE"`
	Secret         string        `env:"AUTH_JWT_SECRET"`
	Issuer         string        `env:"AUTH_ISSUER"`
	Audience       string        `env:"AUTH_AUDIENCE"`
	MaxLifetime    time.Duration `env:"AUTH_MAX_TOKEN_LIFETIME" envDefault:"24h"`
}

// env loads the environment; a malformed variable is the caller's to fix (exit 2).
func (a *app) env() (envConfig, error) {
	cfg, err := envconfig.Load(a.getenv, envConfig{})
	if err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// natsConn is a NATS connection with JetStream, and the URL to name in errors.
type natsConn struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	url string
}

func (c *natsConn) Close() { c.nc.Close() }

// connectNATS fails fast: an operator at a terminal wants "unreachable" within the timeout,
// not a client that retries in the background. extra options come last, so a long-running
// command (the live view) can change how the connection behaves once it is up.
func (a *app) connectNATS(timeout time.Duration, extra ...nats.Option) (*natsConn, error) {
	cfg, err := a.env()
	if err != nil {
		return nil, err
	}
	shown := redact(cfg.NATS.URL)
	opts := []nats.Option{nats.Name("ticketctl"), nats.CustomInboxPrefix(natsconn.InboxPrefix("ticketctl")), nats.Timeout(timeout)}
	if cfg.NATS.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATS.Creds))
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(cfg.NATS.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot reach NATS at %s: %w", shown, err)
	}
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(timeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream on %s: %w", shown, err)
	}
	return &natsConn{nc: nc, js: js, url: shown}, nil
}

// stream looks a stream up, turning the common failures into sentences an operator can act on.
func (c *natsConn) stream(ctx context.Context, name string) (jetstream.Stream, error) {
	st, err := c.js.Stream(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("stream %s not found on NATS at %s: %w", name, c.url, err)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return nil, fmt.Errorf("JetStream is not enabled on NATS at %s", c.url)
	case err != nil:
		return nil, fmt.Errorf("stream %s on NATS at %s: %w", name, c.url, err)
	}
	return st, nil
}

// connectRedis returns a client for REDIS_URL (a Cluster client when REDIS_CLUSTER is true),
// already pinged, with every command bounded by timeout.
func (a *app) connectRedis(ctx context.Context, timeout time.Duration) (redis.UniversalClient, error) {
	cfg, err := a.env()
	if err != nil {
		return nil, err
	}
	shown := redact(cfg.Redis.URL)
	rdb, err := redisconn.Open(cfg.Redis.URL, cfg.Redis.Cluster, redisconn.Tuning{
		DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: 1})
	if err != nil {
		return nil, usagef("%v", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %w", shown, err)
	}
	return rdb, nil
}

// connectPostgres opens one connection; the audit reads in a single read-only transaction.
func (a *app) connectPostgres(ctx context.Context, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := a.env()
	if err != nil {
		return nil, err
	}
	pcfg, err := pgx.ParseConfig(cfg.DB.URL)
	if err != nil {
		return nil, usagef("config: DATABASE_URL: not a valid PostgreSQL URL")
	}
	if pcfg.ConnectTimeout == 0 || pcfg.ConnectTimeout > timeout {
		pcfg.ConnectTimeout = timeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %w", redact(cfg.DB.URL), err)
	}
	return conn, nil
}

// redact hides a password so errors can be pasted into an incident channel. Of a list of
// NATS URLs each is redacted.
func redact(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
