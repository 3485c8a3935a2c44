package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// The private servers' ports: away from the defaults, so a server installed later does not collide.
const (
	privatePostgresPort = 55432
	privateRedisPort    = 56379
	privateNATSPort     = 54222
)

// installHint ends the line make dev stops with when a server is missing: every way to get one.
const installHint = "install them (Debian/Ubuntu: apt-get install postgresql redis-server; macOS: brew install postgresql@16 redis), " +
	"start Docker (make dev then runs them in containers), start your own, or set DATABASE_URL / REDIS_URL / NATS_URL"

// dep is where one of Postgres, Redis and NATS comes from.
type dep struct {
	url  string // for the services
	note string // for the banner
}

// hostPort returns host:port of a URL (the first of a comma-separated list), with defPort when it names
// none.
func hostPort(raw, defPort string) string {
	raw = strings.TrimSpace(strings.Split(raw, ",")[0])
	if !strings.Contains(raw, "://") {
		raw = "tcp://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return testinfra.HostPort(u, defPort)
}

// listening reports whether something accepts TCP connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// choose applies the order for one server: the URL the variable names; else the default port when
// something answers there; else start (fallback: a private instance, a container, or the install line).
// probe is the server's own handshake.
func choose(ctx context.Context, name, envVar, defURL, defPort string, probe func(context.Context, string) error,
	start func() (dep, error)) (dep, error) {
	if v := os.Getenv(envVar); v != "" {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := probe(pctx, v); err != nil {
			return dep{}, fmt.Errorf("%s=%s does not answer: %w (fix it, or unset it to use %s on %s or a private one)", envVar, redact(v), err, name, hostPort(defURL, defPort))
		}
		return dep{url: v, note: "from " + envVar}, nil
	}
	if listening(hostPort(defURL, defPort)) {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := probe(pctx, defURL); err != nil {
			return dep{}, fmt.Errorf("%s on %s answers but %s does not work: %w (set %s, e.g. with a password, or PGPASSWORD / ~/.pgpass for Postgres)", name, hostPort(defURL, defPort), redact(defURL), err, envVar)
		}
		return dep{url: defURL, note: "already running"}, nil
	}
	return start()
}

// server is how to get one of Postgres, Redis and NATS once nothing answers on its variable or default
// port: the machine's binaries and a private instance from them, or a container.
type server struct {
	name, envVar, defAddr string // "PostgreSQL", "DATABASE_URL", "127.0.0.1:5432": for the messages
	hint                  string // how to get one, for the line make dev stops with
	find                  func() (string, error)
	private               func(bin string) (dep, error)
	container             func(context.Context) (dep, error)
}

// step is where fallback takes a server from.
type step int

const (
	stepPrivate   step = iota // a private instance from the machine's binaries, under .dev/
	stepContainer             // a container, through pkg/testinfra's containers program
	stepInstall               // none: stop with the line saying what to install
)

// nextStep is the end of the order: the machine's binaries when found, else a container when a Docker
// engine is configured, else the install line. docker is asked only when the binaries are missing (it
// touches no network either way: whether the engine answers, the container's start tells).
func nextStep(binErr error, docker func() bool) step {
	switch {
	case binErr == nil:
		return stepPrivate
	case docker():
		return stepContainer
	}
	return stepInstall
}

// missing is the line make dev stops with when there is no way to get s.
func missing(s server, binErr error) error {
	return fmt.Errorf("no %s: nothing answers on %s and %s is unset, %w, and no Docker engine is configured "+
		"(DOCKER_HOST and DOCKER_CONTEXT are unset, and there is no Docker socket); %s",
		s.name, s.defAddr, s.envVar, binErr, s.hint)
}

// fallback is choose's last step for s: see nextStep.
func (d *devstack) fallback(ctx context.Context, s server) (dep, error) {
	bin, binErr := s.find()
	switch nextStep(binErr, d.dockerConfigured) {
	case stepPrivate:
		return s.private(bin)
	case stepContainer:
		d.say("%s: %v; a Docker engine is configured: running it in a container", s.name, binErr)
		dp, err := s.container(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return dep{}, ctx.Err()
			}
			return dep{}, fmt.Errorf("no %s: %w, and a Docker engine is configured, but its container failed: %w", s.name, binErr, err)
		}
		return dp, nil
	}
	return dep{}, missing(s, binErr)
}

// findPostgresBin returns a directory holding both initdb and postgres: on PATH, else the newest of
// Debian's /usr/lib/postgresql/*/bin or Homebrew's postgresql@*.
func findPostgresBin() (string, error) {
	var dirs []string
	for _, name := range []string{"initdb", "postgres", "pg_ctl"} {
		if p, err := exec.LookPath(name); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				dirs = append(dirs, filepath.Dir(r))
			}
			dirs = append(dirs, filepath.Dir(p))
		}
	}
	var globbed []string
	for _, pat := range []string{"/usr/lib/postgresql/*/bin", "/opt/homebrew/opt/postgresql@*/bin", "/usr/local/opt/postgresql@*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pat)
		globbed = append(globbed, m...)
	}
	sort.Slice(globbed, func(i, j int) bool { return versionOf(globbed[i]) > versionOf(globbed[j]) })
	for _, d := range append(dirs, globbed...) {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and postgres on PATH or in /usr/lib/postgresql/*/bin")
}

// versionOf returns the first number in a path like /usr/lib/postgresql/15/bin.
func versionOf(path string) int {
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r < '0' || r > '9' }) {
		n, _ := strconv.Atoi(part)
		return n
	}
	return 0
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// The three servers past their variable and default port.
func (d *devstack) postgresServer() server {
	return server{name: "PostgreSQL", envVar: "DATABASE_URL", defAddr: "127.0.0.1:5432", hint: installHint,
		find: findPostgresBin, private: d.startPostgres, container: d.postgresContainer}
}

func (d *devstack) redisServer() server {
	return server{name: "Redis", envVar: "REDIS_URL", defAddr: "127.0.0.1:6379", hint: installHint,
		find: findRedisBin, private: d.startRedis, container: d.redisContainer}
}

// NATS has no package to install: make dev builds the pinned nats-server with the go command.
func (d *devstack) natsServer() server {
	return server{name: "NATS", envVar: "NATS_URL", defAddr: "127.0.0.1:4222",
		hint: "let make dev build the pinned nats-server (run make dev once where the Go module proxy is reachable), start Docker (make dev then runs NATS in a container), start your own, or set NATS_URL",
		find: func() (string, error) {
			bin, err := testinfra.NATSServerPath()
			if err != nil {
				return "", fmt.Errorf("the pinned nats-server could not be built: %w", err)
			}
			return bin, nil
		},
		private: d.startNATS, container: d.natsContainer}
}

// startPostgres runs a private PostgreSQL from the machine's binaries in bin: data in state/postgres
// (made by initdb on first use, kept between runs), listening on 127.0.0.1:55432 only, no Unix socket,
// trust authentication for the postgres role.
func (d *devstack) startPostgres(bin string) (dep, error) {
	data := filepath.Join(d.state, "postgres")
	logFile := filepath.Join(d.state, "postgres.log")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err != nil {
		d.say("initialising a private PostgreSQL in %s (%s, once)", d.rel(data), bin)
		_ = os.RemoveAll(data)
		if err := os.MkdirAll(data, 0o700); err != nil {
			return dep{}, err
		}
		cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-instructions")
		cmd.Env = os.Environ()
		if err := runAsPostgresUser(cmd, data); err != nil {
			return dep{}, err
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			_ = os.RemoveAll(data)
			return dep{}, fmt.Errorf("initdb failed (the data directory's parents must be readable by the postgres account): %w\n%s", err, out)
		}
	}
	port := strconv.Itoa(privatePostgresPort)
	addr := "127.0.0.1:" + port
	if listening(addr) {
		return dep{}, fmt.Errorf("%s is already taken (a private PostgreSQL left running? see %s)", addr, d.rel(filepath.Join(data, "postmaster.pid")))
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", port, "-h", "127.0.0.1",
		"-c", "unix_socket_directories=", "-c", "logging_collector=off")
	cmd.Env = os.Environ()
	if err := runAsPostgresUser(cmd, data); err != nil {
		return dep{}, err
	}
	d.say("starting a private PostgreSQL on %s (data in %s, log in %s)", addr, d.rel(data), d.rel(logFile))
	p, err := d.sup.start("postgres", cmd, sigInt, logFile) // SIGINT: fast shutdown
	if err != nil {
		return dep{}, err
	}
	u := "postgres://postgres@" + addr + "/tickets?sslmode=disable"
	admin := "postgres://postgres@" + addr + "/postgres?sslmode=disable"
	if err := d.waitServer(p, logFile, 60*time.Second, func(ctx context.Context) error { return testinfra.ProbePostgres(ctx, admin) }); err != nil {
		return dep{}, err
	}
	return dep{url: u, note: "private, started by make dev from " + bin + ", data in " + d.rel(data)}, nil
}

// findRedisBin returns the path of redis-server: on PATH, else Debian's.
func findRedisBin() (string, error) {
	if bin, err := exec.LookPath("redis-server"); err == nil {
		return bin, nil
	}
	if isExec("/usr/bin/redis-server") {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("there is no redis-server on PATH")
}

// startRedis runs a private redis-server (bin) on 127.0.0.1:56379 with its data (append-only file) in
// state/redis.
func (d *devstack) startRedis(bin string) (dep, error) {
	dir := filepath.Join(d.state, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return dep{}, err
	}
	logFile := filepath.Join(d.state, "redis.log")
	addr := "127.0.0.1:" + strconv.Itoa(privateRedisPort)
	cmd := exec.Command(bin, "--port", strconv.Itoa(privateRedisPort), "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning")
	d.say("starting a private redis-server on %s (data in %s, log in %s)", addr, d.rel(dir), d.rel(logFile))
	p, err := d.sup.start("redis", cmd, sigTerm, logFile)
	if err != nil {
		return dep{}, err
	}
	u := "redis://" + addr + "/0"
	if err := d.waitServer(p, logFile, 20*time.Second, func(ctx context.Context) error { return testinfra.ProbeRedis(ctx, u) }); err != nil {
		return dep{}, err
	}
	return dep{url: u, note: "private, started by make dev, data in " + d.rel(dir)}, nil
}

// startNATS runs the pinned nats-server (bin: pkg/testinfra finds or builds it in .cache/bin) with the
// users and permissions of deploy/nats/auth.conf, as compose does, with passwords made once for this state
// directory. It sets d.natsURLs (the services' own users) and d.ctlLine.
func (d *devstack) startNATS(bin string) (dep, error) {
	pw, auth, err := d.natsAuth()
	if err != nil {
		return dep{}, err
	}
	if err := os.WriteFile(filepath.Join(d.state, "nats-auth.conf"), auth, 0o600); err != nil {
		return dep{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(privateNATSPort)
	conf := fmt.Sprintf("listen: %s\njetstream { store_dir: %q }\ninclude ./nats-auth.conf\n", addr, filepath.Join(d.state, "nats"))
	confFile := filepath.Join(d.state, "nats.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		return dep{}, err
	}
	logFile := filepath.Join(d.state, "nats.log")
	cmd := exec.Command(bin, "-c", confFile)
	cmd.Env = d.environ() // auth.conf reads the passwords from the environment
	d.say("starting nats-server %s on %s (JetStream, store in %s, log in %s)", testinfra.NATSServerVersion(bin), addr, d.rel(filepath.Join(d.state, "nats")), d.rel(logFile))
	p, err := d.sup.start("nats-server", cmd, sigTerm, logFile)
	if err != nil {
		return dep{}, err
	}
	u := "nats://" + addr
	if err := d.waitServer(p, logFile, 30*time.Second, func(ctx context.Context) error { return testinfra.ProbeNATS(ctx, u) }); err != nil {
		return dep{}, err
	}
	d.useNATSUsers(pw, addr)
	return dep{url: u, note: "private, started by make dev with deploy/nats/auth.conf's users (passwords in " + d.rel(filepath.Join(d.state, "nats-passwords")) + "), log in " + d.rel(logFile)}, nil
}

// natsAuth returns the passwords of auth.conf's users (also set in d.env, for nats-server reads them from
// its environment) and deploy/nats/auth.conf itself.
func (d *devstack) natsAuth() (map[string]string, []byte, error) {
	pw, err := d.natsPasswords()
	if err != nil {
		return nil, nil, err
	}
	for k, v := range pw {
		d.env[k] = v
	}
	auth, err := os.ReadFile(filepath.Join(d.root, "deploy", "nats", "auth.conf"))
	if err != nil {
		return nil, nil, err
	}
	return pw, auth, nil
}

// useNATSUsers makes each service connect to the NATS on addr as its own user of auth.conf, and the
// banner tell ticketctl's.
func (d *devstack) useNATSUsers(pw map[string]string, addr string) {
	d.natsURLs = map[string]string{
		"command":           "nats://command:" + pw["NATS_COMMAND_PASSWORD"] + "@" + addr,
		"cache-invalidator": "nats://cache-invalidator:" + pw["NATS_INVALIDATOR_PASSWORD"] + "@" + addr,
	}
	d.ctlLine = "export NATS_URL=nats://ticketctl:" + pw["NATS_TICKETCTL_PASSWORD"] + "@" + addr + "   # ticketctl's read-only user"
}

// natsPasswords reads state/nats-passwords, making it first if missing.
func (d *devstack) natsPasswords() (map[string]string, error) {
	file := filepath.Join(d.state, "nats-passwords")
	b, err := os.ReadFile(file)
	if err != nil || len(b) == 0 {
		var sb strings.Builder
		for _, u := range []string{"COMMAND", "INVALIDATOR", "TICKETCTL", "ADMIN"} {
			fmt.Fprintf(&sb, "NATS_%s_PASSWORD=%s\n", u, natsPassword())
		}
		b = []byte(sb.String())
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return nil, err
		}
	}
	pw := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			pw[k] = v
		}
	}
	return pw, nil
}

// natsPassword is a random password that nats-server's config parser takes
// as a string when auth.conf names it as a $VARIABLE: a letter first, then
// hex. (Base64 could begin with a digit, which the parser reads as a number
// and then fails on, as the namespace test did now and then.)
func natsPassword() string {
	r := make([]byte, 18)
	_, _ = rand.Read(r)
	return "pw" + hex.EncodeToString(r)
}

// waitServer polls ready until it succeeds, the process exits or timeout passes; the failure says why
// with the end of the server's log.
func (d *devstack) waitServer(p *proc, logFile string, timeout time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		last = ready(ctx)
		cancel()
		if last == nil {
			return nil
		}
		if !p.alive() {
			return fmt.Errorf("%s exited while starting (%s); end of %s:\n%s", p.name, exitError(p.err), d.rel(logFile), tail(logFile))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s (%w); end of %s:\n%s", p.name, timeout, last, d.rel(logFile), tail(logFile))
}

func tail(file string) string {
	b, _ := os.ReadFile(file)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// createDatabase creates the database dbURL names when it is missing, connected to the server's
// maintenance database "postgres".
func (d *devstack) createDatabase(ctx context.Context, dbURL string) error {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connecting to %s's maintenance database: %w", redact(dbURL), err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	d.say("creating database %s", name)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	return err
}
