package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/auth"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
)

// servers are the machine's Postgres (admin), Redis and NATS.
type servers struct {
	admin, redisURL, natsURL string
}

func findServers() servers {
	get := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return servers{
		admin:    get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		redisURL: get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
		natsURL:  get("TEST_NATS_URL", "nats://127.0.0.1:4222"),
	}
}

// dbURL is the admin URL with another database.
func (s servers) dbURL(name string) string {
	u, _ := url.Parse(s.admin)
	u.Path = "/" + name
	return u.String()
}

// createDatabase makes a fresh, migrated database.
func (s servers) createDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", err
	}
	u := s.dbURL(name)
	if err := ticketdb.Migrate(ctx, u, nil); err != nil {
		return "", err
	}
	return u, nil
}

func (s servers) dropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, s.admin); err == nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		_ = conn.Close(ctx)
	}
}

// stack is one run's world: names of its own on the shared servers, the
// built binaries and the processes started from them.
type stack struct {
	srv     servers
	id      string // unique per run, in every name
	bin     string
	prefix  string // Redis key prefix
	stream  string
	subject string
	secret  string
	token   string
	rdb     *redis.Client
	js      jetstream.JetStream
	nc      *nats.Conn
	procs   []*proc
	dbs     []string
	log     io.Writer
	// profiles, when set, is where CPU and allocation profiles of the
	// services go, taken during the project's first turn of each scenario.
	profiles string
}

func newStack(ctx context.Context, log io.Writer) (*stack, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	st := &stack{srv: findServers(), id: id, prefix: "bench" + id + ":", stream: "BENCH_" + id,
		subject: "bench." + id + ".changed", log: log}
	st.secret = "bench-secret-" + id + "-0123456789abcdef"
	tok, err := auth.Mint([]byte(st.secret), "bench", []string{"tickets:read", "tickets:write"}, 2*time.Hour, "", "")
	if err != nil {
		return nil, err
	}
	st.token = tok
	ropts, err := redis.ParseURL(st.srv.redisURL)
	if err != nil {
		return nil, err
	}
	ropts.PoolSize = 64
	st.rdb = redis.NewClient(ropts)
	if err := st.rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis at %s: %w", st.srv.redisURL, err)
	}
	if st.nc, err = nats.Connect(st.srv.natsURL); err != nil {
		return nil, fmt.Errorf("nats at %s: %w", st.srv.natsURL, err)
	}
	if st.js, err = jetstream.New(st.nc); err != nil {
		return nil, err
	}
	if st.bin, err = os.MkdirTemp("", "ticketsys-bench-"); err != nil {
		return nil, err
	}
	fmt.Fprintln(log, "bench: building the services and the floor")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", st.bin+string(os.PathSeparator),
		"./services/command", "./services/query", "./services/cache-invalidator", "./tests/bench/floor")
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, out)
	}
	return st, nil
}

// repoRoot is the module root: the bench runs from it (make) or below it.
func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/ticketsys/ticketsys\n") {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// database creates a migrated database of the run's own, dropped at close.
func (st *stack) database(ctx context.Context, suffix string) (string, error) {
	name := "ticketsys_bench_" + st.id + "_" + suffix
	st.dbs = append(st.dbs, name)
	return st.srv.createDatabase(ctx, name)
}

// env is what every service gets: the configuration users run.
func (st *stack) env(extra ...string) []string {
	env := []string{
		"LOG_LEVEL=info", "LOG_FORMAT=json",
		"AUTH_JWT_SECRET=" + st.secret, "CURSOR_SECRET=bench-cursor-" + st.secret, "CACHE_KEY_PREFIX=" + st.prefix,
		"REDIS_URL=" + st.srv.redisURL, "NATS_URL=" + st.srv.natsURL,
		"STREAM_NAME=" + st.stream, "STREAM_SUBJECT_PREFIX=" + st.subject,
		"DLQ_STREAM_NAME=" + st.stream + "_DLQ", "DLQ_SUBJECT_PREFIX=bench." + st.id + ".dlq",
		"PATH=" + os.Getenv("PATH"),
	}
	env = append(env, extra...)
	// For experiments: BENCH_EXTRA_ENV="A=1 B=2" is given to every service
	// last, so it wins (e.g. OUTBOX_RELAY_ENABLED=false to see the relay's
	// share of a write). Figures taken with it are not the bench's.
	return append(env, strings.Fields(os.Getenv("BENCH_EXTRA_ENV"))...)
}

// proc is a started process: its address and pid.
type proc struct {
	name  string
	url   string
	cmd   *exec.Cmd
	pprof string // its PPROF_ADDR, when profiling
}

// profiled wraps a project turn so that its first run also takes a CPU
// profile of p (and an allocation profile right after) into st.profiles,
// named after the scenario.
func (st *stack) profiled(p *proc, scenario string, turn time.Duration, f func() side) func() side {
	if st.profiles == "" || p.pprof == "" {
		return f
	}
	done := false
	return func() side {
		if done {
			return f()
		}
		done = true
		secs := max(1, int(turn.Seconds())-1)
		got := make(chan error, 1)
		go func() {
			got <- fetch(p.pprof+"/debug/pprof/profile?seconds="+strconv.Itoa(secs),
				filepath.Join(st.profiles, scenario+".cpu.pprof"))
		}()
		s := f()
		if err := <-got; err != nil {
			fmt.Fprintf(st.log, "bench: profile of %s: %v\n", scenario, err)
		}
		if err := fetch(p.pprof+"/debug/pprof/allocs", filepath.Join(st.profiles, scenario+".allocs.pprof")); err != nil {
			fmt.Fprintf(st.log, "bench: allocation profile of %s: %v\n", scenario, err)
		}
		return s
	}
}

func fetch(u, path string) error {
	res, err := http.Get(u)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", u, res.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// start runs a binary with env; it listens on HTTP_ADDR (a free port), which
// start learns from its first log line, then waits for /readyz (or /healthz).
// Its stdout, the JSON request log, is read and dropped, as a container
// runtime reads it.
func (st *stack) start(ctx context.Context, name, binary string, env []string, readyPath string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	env = append(env, "HTTP_ADDR=127.0.0.1:"+strconv.Itoa(port))
	pprofURL := ""
	if st.profiles != "" && binary != "floor" {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		env = append(env, "PPROF_ADDR=127.0.0.1:"+strconv.Itoa(pp))
		pprofURL = "http://127.0.0.1:" + strconv.Itoa(pp)
	}
	cmd := exec.Command(filepath.Join(st.bin, binary))
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &tail{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _, _ = io.Copy(io.Discard, bufio.NewReaderSize(stdout, 1<<16)) }()
	p := &proc{name: name, url: "http://127.0.0.1:" + strconv.Itoa(port), cmd: cmd, pprof: pprofURL}
	st.procs = append(st.procs, p)
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(p.url + readyPath)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil || cmd.ProcessState != nil {
			if err == nil {
				err = errors.New(readyPath + " not 200")
			}
			return nil, fmt.Errorf("%s did not get ready (last try: %w): %s", name, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// peakRSS is the process's high-water resident set size (VmHWM), in bytes.
func (p *proc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmHWM")
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// close stops the processes and removes the run's keys, streams and
// databases.
func (st *stack) close() {
	for i := len(st.procs) - 1; i >= 0; i-- {
		st.procs[i].stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := st.rdb.Scan(ctx, 0, st.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		st.rdb.Del(ctx, iter.Val())
	}
	_ = st.js.DeleteStream(ctx, st.stream)
	_ = st.js.DeleteStream(ctx, st.stream+"_DLQ")
	for _, db := range st.dbs {
		st.srv.dropDatabase(db)
	}
	st.nc.Close()
	_ = st.rdb.Close()
	_ = os.RemoveAll(st.bin)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last few kilobytes a process wrote to stderr.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = t.b[len(t.b)-8192:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
