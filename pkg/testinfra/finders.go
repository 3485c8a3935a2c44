package testinfra

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// The local defaults are probed briefly: when nothing listens the answer is an immediate "connection
	// refused", and a server that takes longer than this to say hello is not one to test against.
	localProbeTimeout = time.Second
	// A server named explicitly by a TEST_* variable may be remote (a CI service), so it gets longer.
	envProbeTimeout = 5 * time.Second
	// Pulling an image on a cold Docker engine can take a while.
	containerStartTimeout = 3 * time.Minute
)

// service describes one kind of server and where to look for it. The lookup itself (find) is a plain
// function of its inputs so that its failure messages can be tested without failing a real test.
type service struct {
	name        string // for messages: "PostgreSQL"
	envVar      string // "TEST_DATABASE_URL"
	defaultURL  string
	defaultAddr string // for messages: "127.0.0.1:5432"
	probe       func(ctx context.Context, rawURL string) error
	container   func(ctx context.Context) (string, error)
}

var (
	postgresService = service{
		name:        "PostgreSQL",
		envVar:      "TEST_DATABASE_URL",
		defaultURL:  "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		defaultAddr: "127.0.0.1:5432",
		probe:       probePostgres,
		container:   startPostgresContainer,
	}
	redisService = service{
		name:        "Redis",
		envVar:      "TEST_REDIS_URL",
		defaultURL:  "redis://127.0.0.1:6379/0",
		defaultAddr: "127.0.0.1:6379",
		probe:       probeRedis,
		container:   startRedisContainer,
	}
	natsService = service{
		name:        "NATS",
		envVar:      "TEST_NATS_URL",
		defaultURL:  "nats://127.0.0.1:4222",
		defaultAddr: "127.0.0.1:4222",
		probe:       probeNATS,
		container:   startNATSContainer,
	}
)

// PostgresURL returns the URL of a PostgreSQL server for admin use (database "postgres" on the local
// default): TEST_DATABASE_URL if set, else postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable if it
// answers within about a second, else a postgres:16-alpine container shared by the whole test process.
// Tests that need a database of their own use NewDatabase instead of writing to this one.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return postgresService.url(t)
}

// RedisURL returns TEST_REDIS_URL if set, else redis://127.0.0.1:6379/0 if it answers, else the URL of a
// redis:7-alpine container shared by the test process. The server is shared: prefix keys with UniqueName.
func RedisURL(t testing.TB) string {
	t.Helper()
	return redisService.url(t)
}

// NATSURL returns TEST_NATS_URL if set, else nats://127.0.0.1:4222 if it answers, else the URL of a
// nats:2.15.2-alpine container (JetStream on) shared by the test process. The server is shared: name streams
// and subjects with UniqueName. Tests that stop NATS on purpose use StartNATSServer instead.
func NATSURL(t testing.TB) string {
	t.Helper()
	return natsService.url(t)
}

// findEntry caches one lookup: the probes (and a container start) happen once per test process, not once
// per test.
type findEntry struct {
	once sync.Once
	url  string
	err  error
}

var (
	findMu    sync.Mutex
	findCache = map[string]*findEntry{}
)

func (s service) url(t testing.TB) string {
	t.Helper()
	envVal := strings.TrimSpace(os.Getenv(s.envVar))
	key := s.name + "\x00" + envVal // keyed by the variable's value so that t.Setenv gets a fresh lookup
	findMu.Lock()
	e := findCache[key]
	if e == nil {
		e = &findEntry{}
		findCache[key] = e
	}
	findMu.Unlock()
	e.once.Do(func() {
		e.url, e.err = s.find(context.Background(), envVal, dockerAvailable)
	})
	if e.err != nil {
		t.Fatalf("testinfra: %v", e.err)
	}
	return e.url
}

// find looks for the server in the contract's order. envVal is the TEST_* variable's value ("" when unset);
// docker reports whether a Docker engine answers. Every error it returns is a complete, actionable message.
func (s service) find(ctx context.Context, envVal string, docker func(context.Context) error) (string, error) {
	if envVal != "" {
		// An explicit setting is never second-guessed by falling back to something else: a typo in CI
		// would otherwise test against the wrong server without anyone noticing.
		pctx, cancel := context.WithTimeout(ctx, envProbeTimeout)
		defer cancel()
		if err := s.probe(pctx, envVal); err != nil {
			return "", s.envError(envVal, err)
		}
		return envVal, nil
	}
	pctx, cancel := context.WithTimeout(ctx, localProbeTimeout)
	localErr := s.probe(pctx, s.defaultURL)
	cancel()
	if localErr == nil {
		return s.defaultURL, nil
	}
	if err := docker(ctx); err != nil {
		return "", s.missingError(localErr, err)
	}
	cctx, cancel := context.WithTimeout(ctx, containerStartTimeout)
	defer cancel()
	u, err := s.container(cctx)
	if err != nil {
		return "", s.containerError(localErr, err)
	}
	return u, nil
}

func (s service) envError(envVal string, err error) error {
	return fmt.Errorf("no %s: %s=%s does not answer (%w); fix it, or unset it to use a server on %s or a Docker engine",
		s.name, s.envVar, redactURL(envVal), err, s.defaultAddr)
}

func (s service) missingError(localErr, dockerErr error) error {
	return fmt.Errorf("no %s: set %s, start one on %s, or run a Docker engine (%s: %w; Docker: %w)",
		s.name, s.envVar, s.defaultAddr, s.defaultAddr, localErr, dockerErr)
}

func (s service) containerError(localErr, err error) error {
	return fmt.Errorf("no %s: nothing answers on %s (%w) and starting a %s container failed: %w; set %s or start one on %s",
		s.name, s.defaultAddr, localErr, s.name, err, s.envVar, s.defaultAddr)
}

// redactURL hides a password so that failure messages can be pasted into an issue safely.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

func probePostgres(ctx context.Context, rawURL string) error {
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// probeRedis speaks just enough RESP to get a PONG: one round trip within the probe's deadline, with no
// client's retries, pool or logging behind it, and an error that says what answered instead.
func probeRedis(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("bad Redis URL: %w", err)
	}
	addr := HostPort(u, "6379")
	var d net.Dialer
	switch u.Scheme {
	case "redis":
	case "rediss":
		// Only check that a TLS server answers: verifying it needs the caller's CA, and nothing secret is
		// sent over this unverified connection.
		conn, err := (&tls.Dialer{NetDialer: &d, Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	default:
		return fmt.Errorf("bad Redis URL scheme %q (want redis:// or rediss://)", u.Scheme)
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	if pw, ok := u.User.Password(); ok {
		args := []string{"AUTH", pw}
		if name := u.User.Username(); name != "" {
			args = []string{"AUTH", name, pw}
		}
		if err := redisCmd(conn, r, "+OK", args...); err != nil {
			return err
		}
	}
	return redisCmd(conn, r, "+PONG", "PING")
}

func redisCmd(conn net.Conn, r *bufio.Reader, want string, args ...string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	line = strings.TrimSpace(line)
	switch {
	case line == want:
		return nil
	case strings.HasPrefix(line, "-"):
		return fmt.Errorf("redis %s: %s", args[0], line[1:])
	default:
		return fmt.Errorf("not a Redis server (answered %s with %.40q)", args[0], line)
	}
}

// probeNATS reads the INFO line every NATS server sends first; no client library needed. A comma-separated
// list of URLs (as nats.Connect accepts) answers if any of them does.
func probeNATS(ctx context.Context, rawURLs string) error {
	var errs []error
	for _, raw := range strings.Split(rawURLs, ",") {
		raw = strings.TrimSpace(raw)
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("bad NATS URL: %w", err))
			continue
		}
		if err := probeNATSAddr(ctx, HostPort(u, "4222")); err != nil {
			errs = append(errs, err)
			continue
		}
		return nil
	}
	return errors.Join(errs...)
}

func probeNATSAddr(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no INFO from server: %w", addr, err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("%s is not a NATS server (said %.40q)", addr, line)
	}
	return nil
}

// HostPort is u's host:port, 127.0.0.1 when it names no host and defaultPort when it names no port.
func HostPort(u *url.URL, defaultPort string) string {
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = defaultPort
	}
	return net.JoinHostPort(host, port)
}
