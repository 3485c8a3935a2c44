// Command devstack is `make dev`: the whole local stack without needing Docker, the same on Linux and
// macOS.
//
// For each of PostgreSQL, Redis and NATS it uses, in order: what DATABASE_URL, REDIS_URL or NATS_URL
// names; else a server already answering on the default port (5432, 6379, 4222); else a private one it
// starts itself under .dev/ from the machine's binaries (initdb and postgres on 127.0.0.1:55432,
// redis-server on 56379, the pinned nats-server on 54222), kept between runs (make dev-reset wipes them);
// else, when a Docker engine is configured, a container of compose's image, started by the program the
// tests use too (pkg/testinfra/containers, a module of its own: testcontainers-go stays out of this
// module's graph), its data not kept; else it stops with one line saying what to install.
//
// It then builds the services and ticketctl into .cache/bin (and the pinned Caddy once), creates the
// database, runs the migrations, starts the three services and the Caddy front door on :8000
// (deploy/caddy/Caddyfile, the file compose uses too), waits until every /readyz answers, and prints a
// token and a first curl. Logs: one stream, each line prefixed with [name]; the servers it started log
// into .dev/*.log. Ctrl-C stops what it started, and nothing else.
//
// Every variable already set in the environment wins; development defaults fill in the rest. HTTP_ADDR
// is per process, so devstack takes COMMAND_ADDR, QUERY_ADDR, INVALIDATOR_ADDR and FRONTDOOR_ADDR.
//
//	go run ./cmd/devstack            # make dev
//	go run ./cmd/devstack -reset     # make dev-reset: wipe .dev/ (refused while make dev runs)
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// The pinned Caddy (the front door). Keep in step with mk/stack.mk and deploy/caddy/Dockerfile;
// TestCaddyPin checks the first, deploy/stack both.
const caddyVersion = "v2.11.9"

// goToolchain is the Makefile's toolchain, also when devstack runs on its own.
const goToolchain = "go1.27.3"

func main() {
	state := flag.String("state", "", "directory for the private servers' data, the lock and the logs (default: .dev in the repository)")
	reset := flag.Bool("reset", false, "wipe the state directory (refused while make dev runs) and exit")
	prepare := flag.Bool("prepare", false, "build what make dev needs the network for (Caddy, nats-server, the services) and exit")
	flag.Parse()
	if err := run(*state, *reset, *prepare); err != nil {
		fmt.Fprintf(os.Stderr, "make dev: %v\n", err)
		os.Exit(1)
	}
}

type devstack struct {
	root, state, bin string
	goCmd            string
	env              map[string]string // what devstack sets on top of os.Environ for every child
	sup              *supervisor
	logs             *logMerger
	natsURLs         map[string]string // per service, when devstack runs NATS with auth.conf's users
	ctlLine          string
	servers          []string // names of the servers it started, stopped after the services
	deps             map[string]dep
	dockerConfigured func() bool // whether a Docker engine is configured (testinfra.DockerConfigured)
	// runContainer starts a container (testinfra.StartContainer); containers are those it started,
	// stopped after the servers, the last started first.
	runContainer func(ctx context.Context, kind string, stderr io.Writer) (*testinfra.Container, error)
	containers   []interface{ Stop() error }
}

func run(state string, reset, prepare bool) error {
	root, err := testinfra.ModuleRoot()
	if err != nil {
		return err
	}
	if state == "" {
		state = filepath.Join(root, ".dev")
	}
	if state, err = filepath.Abs(state); err != nil {
		return err
	}
	if reset {
		return resetState(state)
	}
	logs := &logMerger{out: os.Stdout}
	d := &devstack{root: root, state: state, bin: filepath.Join(root, ".cache", "bin"), env: map[string]string{},
		logs: logs, sup: newSupervisor(logs), goCmd: "go",
		dockerConfigured: testinfra.DockerConfigured, runContainer: testinfra.StartContainer}
	if g := os.Getenv("GO"); g != "" {
		d.goCmd = g
	}
	if _, err := exec.LookPath(d.goCmd); err != nil {
		return fmt.Errorf("%s is missing: install Go 1.26.7 or newer (https://go.dev/dl)", d.goCmd)
	}
	for _, dir := range []string{state, d.bin} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	defer stop()
	if prepare {
		return d.prepare(ctx)
	}
	defer func() {
		if d.sup.any() || len(d.containers) > 0 {
			d.say("stopping")
			d.sup.stopEverything(d.servers...)
			d.stopContainers()
			d.say("stopped")
		}
	}()
	return d.up(ctx)
}

// resetState removes the state directory unless a make dev holds its lock.
func resetState(state string) error {
	if _, err := os.Stat(state); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	ok, err := lockState(filepath.Join(state, "dev.lock"))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("make dev is running in this checkout (%s is held): stop it with Ctrl-C first", filepath.Join(state, "dev.lock"))
	}
	if err := os.RemoveAll(state); err != nil {
		return err
	}
	fmt.Printf("make dev-reset: removed %s\n", state)
	return nil
}

func (d *devstack) say(format string, args ...any) {
	d.logs.printf("make dev: "+format+"\n", args...)
}

func (d *devstack) rel(path string) string {
	if r, err := filepath.Rel(d.root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// setDefault sets an environment variable for devstack and its children unless it is already set.
func setDefault(key, val string) {
	if os.Getenv(key) == "" {
		_ = os.Setenv(key, val)
	}
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// environ is os.Environ with d.env and extra (KEY=value) on top.
func (d *devstack) environ(extra ...string) []string {
	env := os.Environ()
	for k, v := range d.env {
		env = append(env, k+"="+v)
	}
	return append(env, extra...)
}

func (d *devstack) up(ctx context.Context) error {
	_ = os.Setenv("GOTOOLCHAIN", goToolchain)
	// What only a developer's machine may use (the development keys, auth off, a random cursor key) is
	// refused unless ENV says development.
	setDefault("ENV", "development")
	// One key source only; by default the development key pair of deploy/dev-keys (the compose stack's
	// too): the services verify with its public half, and ticketctl token signs with the private one.
	if os.Getenv("AUTH_JWKS_URL")+os.Getenv("AUTH_JWT_SECRET")+os.Getenv("AUTH_PUBLIC_KEY_FILE") == "" && os.Getenv("AUTH_DISABLED") != "true" {
		_ = os.Setenv("AUTH_PUBLIC_KEY_FILE", filepath.Join(d.root, "deploy", "dev-keys", "public.pem"))
		setDefault("AUTH_PRIVATE_KEY_FILE", filepath.Join(d.root, "deploy", "dev-keys", "private.pem"))
	}
	setDefault("LOG_FORMAT", "text")
	setDefault("LOG_LEVEL", "info")
	addr := map[string]string{
		"command":           getenv("COMMAND_ADDR", "127.0.0.1:8081"),
		"query":             getenv("QUERY_ADDR", "127.0.0.1:8082"),
		"cache-invalidator": getenv("INVALIDATOR_ADDR", "127.0.0.1:8083"),
		"frontdoor":         getenv("FRONTDOOR_ADDR", "127.0.0.1:8000"),
	}
	if os.Getenv("HTTP_ADDR") != "" {
		d.say("HTTP_ADDR is ignored (one per process): set COMMAND_ADDR, QUERY_ADDR, INVALIDATOR_ADDR, FRONTDOOR_ADDR")
	}

	// A second run must not start half a stack beside the first: the ports first (whoever holds them),
	// then a lock for two runs starting at the same moment.
	for _, name := range []string{"frontdoor", "command", "query", "cache-invalidator"} {
		if hp := hostPort(addr[name], ""); listening(hp) {
			return fmt.Errorf("%s is already taken (is make dev already running? stop it with Ctrl-C, or set COMMAND_ADDR/QUERY_ADDR/INVALIDATOR_ADDR/FRONTDOOR_ADDR)", hp)
		}
	}
	if ok, err := lockState(filepath.Join(d.state, "dev.lock")); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("make dev is already starting in this checkout (%s is held)", d.rel(filepath.Join(d.state, "dev.lock")))
	}

	pg, err := choose(ctx, "PostgreSQL", "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable", "5432",
		func(ctx context.Context, u string) error { return testinfra.ProbePostgres(ctx, maintenanceURL(u)) },
		func() (dep, error) { return d.fallback(ctx, d.postgresServer()) })
	if err != nil {
		return err
	}
	if strings.HasPrefix(pg.note, "private") {
		d.servers = append([]string{"postgres"}, d.servers...)
	}
	rd, err := choose(ctx, "Redis", "REDIS_URL", "redis://127.0.0.1:6379/0", "6379", testinfra.ProbeRedis,
		func() (dep, error) { return d.fallback(ctx, d.redisServer()) })
	if err != nil {
		return err
	}
	if strings.HasPrefix(rd.note, "private") {
		d.servers = append([]string{"redis"}, d.servers...)
	}
	nt, err := choose(ctx, "NATS", "NATS_URL", "nats://127.0.0.1:4222", "4222", testinfra.ProbeNATS,
		func() (dep, error) { return d.fallback(ctx, d.natsServer()) })
	if err != nil {
		return err
	}
	if strings.HasPrefix(nt.note, "private") {
		d.servers = append([]string{"nats-server"}, d.servers...)
	}
	d.env["DATABASE_URL"], d.env["REDIS_URL"], d.env["NATS_URL"] = pg.url, rd.url, nt.url
	d.deps = map[string]dep{"postgres": pg, "redis": rd, "nats": nt}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	if err := d.buildCaddy(ctx); err != nil {
		return err
	}
	services := []string{"command", "query", "cache-invalidator"}
	if err := d.buildServices(ctx); err != nil {
		return err
	}
	if err := d.createDatabase(ctx, pg.url); err != nil {
		return err
	}
	mig := exec.CommandContext(ctx, filepath.Join(d.bin, "command"), "migrate")
	mig.Env = d.environ()
	if err := d.runPrefixed("migrate", mig); err != nil {
		return fmt.Errorf("migrations failed (%s); see [migrate] above", exitError(err))
	}

	procs := map[string]*proc{}
	for _, svc := range services {
		natsURL := nt.url
		if u, ok := d.natsURLs[svc]; ok {
			natsURL = u
		}
		cmd := exec.Command(filepath.Join(d.bin, svc))
		cmd.Env = d.environ("HTTP_ADDR="+addr[svc], "NATS_URL="+natsURL)
		if procs[svc], err = d.sup.start(svc, cmd, sigTerm, ""); err != nil {
			return err
		}
	}
	fdHost, fdPort, _ := cutLast(addr["frontdoor"])
	if fdHost == "" {
		fdHost = "0.0.0.0"
	}
	caddy := exec.Command(filepath.Join(d.bin, "caddy"), "run", "--config", filepath.Join(d.root, "deploy", "caddy", "Caddyfile"), "--adapter", "caddyfile")
	caddy.Dir = d.root
	caddy.Env = d.environ("FRONTDOOR_BIND="+fdHost, "FRONTDOOR_PORT="+fdPort,
		"QUERY_UPSTREAM="+addr["query"], "COMMAND_UPSTREAM="+addr["command"],
		"FRONTDOOR_LOG_FORMAT="+getenv("FRONTDOOR_LOG_FORMAT", "console"),
		"FRONTDOOR_API_DIR="+filepath.Join(d.root, "api", "openapi"),
		"XDG_DATA_HOME="+filepath.Join(d.state, "caddy", "data"), "XDG_CONFIG_HOME="+filepath.Join(d.state, "caddy", "config"))
	if procs["frontdoor"], err = d.sup.start("frontdoor", caddy, sigTerm, ""); err != nil {
		return err
	}

	for _, svc := range services {
		if err := waitHTTP(ctx, procs[svc], "http://"+hostPort(addr[svc], "")+"/readyz", false); err != nil {
			return err
		}
	}
	front := "http://" + hostPort(addr["frontdoor"], "8000")
	if err := waitHTTP(ctx, procs["frontdoor"], front+"/healthz", true); err != nil {
		return err
	}
	if err := d.banner(ctx, front, addr, services, nt); err != nil {
		return err
	}

	// Until Ctrl-C, or until one of the processes stops by itself: then the stack is not what the
	// banner says any more, so stop the rest too.
	select {
	case <-ctx.Done():
		return nil
	case p := <-d.sup.exited:
		return fmt.Errorf("%s exited (%s); stopping the rest", p.name, exitError(p.err))
	}
}

// cutLast splits host:port at its last colon.
func cutLast(addr string) (host, port string, ok bool) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", false
	}
	return addr[:i], addr[i+1:], true
}

// maintenanceURL is a Postgres URL with the database "postgres": the server answers before the
// application's database exists.
func maintenanceURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/postgres"
	return u.String()
}

// runPrefixed runs cmd to its end, its output in the merged log as "[name] line".
func (d *devstack) runPrefixed(name string, cmd *exec.Cmd) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = w, w
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.Close()
		d.logs.copyLines("["+name+"] ", r)
	}()
	err = cmd.Run()
	w.Close()
	<-done
	return err
}

func (d *devstack) goRun(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, d.goCmd, args...)
	cmd.Dir = d.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", d.goCmd, strings.Join(args, " "), err)
	}
	return nil
}

// buildServices builds the three services and ticketctl into .cache/bin.
func (d *devstack) buildServices(ctx context.Context) error {
	d.say("building command, query, cache-invalidator and ticketctl")
	return d.goRun(ctx, "build", "-o", d.bin+string(filepath.Separator), "./services/command", "./services/query",
		"./services/cache-invalidator", "./cmd/ticketctl")
}

// prepare builds everything make dev may need the network for (modules
// from the proxy): Caddy, the pinned nats-server and the services. Run
// once, it lets make dev start where nothing can be downloaded, such as a
// network namespace of its own.
func (d *devstack) prepare(ctx context.Context) error {
	if err := d.buildCaddy(ctx); err != nil {
		return err
	}
	if _, err := testinfra.NATSServerPath(); err != nil {
		return err
	}
	return d.buildServices(ctx)
}

// buildCaddy builds the pinned Caddy into .cache/bin unless the binary there is that version already.
func (d *devstack) buildCaddy(ctx context.Context) error {
	bin := filepath.Join(d.bin, "caddy")
	if bi, err := buildinfo.ReadFile(bin); err == nil && bi.Main.Path == "github.com/caddyserver/caddy/v2" && bi.Main.Version == caddyVersion {
		return nil
	}
	d.say("building caddy %s (once; a few minutes)", caddyVersion)
	cmd := exec.CommandContext(ctx, d.goCmd, "install", "github.com/caddyserver/caddy/v2/cmd/caddy@"+caddyVersion)
	cmd.Dir = d.root
	cmd.Env = append(os.Environ(), "GOBIN="+d.bin, "GOWORK=off")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building caddy %s: %w", caddyVersion, err)
	}
	return nil
}

// waitHTTP polls url until it answers 2xx (any answer for the front door, whose answer depends on what
// is behind it); 60 s at most, or until p exits.
func waitHTTP(ctx context.Context, p *proc, target string, anyStatus bool) error {
	client := &http.Client{Timeout: time.Second}
	var last string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if anyStatus || res.StatusCode/100 == 2 {
				return nil
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		if !p.alive() {
			return fmt.Errorf("%s exited while starting (%s); its last lines are above", p.name, exitError(p.err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s is not ready after 60 s: GET %s: %s", p.name, target, last)
}

func (d *devstack) banner(ctx context.Context, front string, addr map[string]string, services []string, nt dep) error {
	auth := ` -H "Authorization: Bearer $TOKEN"`
	var tokenLine string
	switch {
	case os.Getenv("AUTH_PRIVATE_KEY_FILE")+os.Getenv("AUTH_JWT_SECRET") != "":
		cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "ticketctl"), "token", "--sub", "dev", "--scope", "tickets:read tickets:write", "--ttl", "12h")
		cmd.Env = d.environ()
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("ticketctl token: %w", err)
		}
		tokenLine = "export TOKEN=" + strings.TrimSpace(string(out))
	case os.Getenv("AUTH_DISABLED") == "true":
		tokenLine, auth = "# AUTH_DISABLED=true: no token needed", ""
	default:
		tokenLine = "export TOKEN=<a token from your identity provider, or set AUTH_PRIVATE_KEY_FILE>"
	}
	ctl := d.ctlLine
	if ctl == "" {
		ctl = "# ticketctl reads NATS_URL=" + nt.url
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n  front door         %s   (GET/HEAD -> query, other methods -> command)\n", front)
	for _, svc := range services {
		fmt.Fprintf(&b, "  %-18s http://%s   ready\n", svc, hostPort(addr[svc], ""))
	}
	for _, name := range []string{"postgres", "redis", "nats"} {
		fmt.Fprintf(&b, "  %-18s %s   (%s)\n", name, redact(d.deps[name].url), d.deps[name].note)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  %s\n  %s\n", tokenLine, ctl)
	fmt.Fprintf(&b, "  curl -sS -i -X POST %s/tickets%s \\\n    -H 'Content-Type: application/json' -d '{\"title\":\"Printer on floor 3 is jammed\",\"priority\":\"high\"}'\n", front, auth)
	fmt.Fprintf(&b, "  curl -sS -i \"%s/tickets\"%s     # twice: X-Cache MISS, then HIT\n\n", front, auth)
	b.WriteString("  Ctrl-C stops everything make dev started.\n")
	d.logs.printf("%s", b.String())
	return nil
}
