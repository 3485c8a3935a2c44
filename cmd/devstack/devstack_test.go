package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDevstackPrivateServers runs devstack with nothing answering on the default ports: in a network
// namespace of its own (unshare -n, as root), where the machine's Postgres, Redis and NATS are invisible,
// and with DATABASE_URL, REDIS_URL and NATS_URL unset. devstack must start private ones from the
// machine's binaries, bring the stack up, and print a token and a first curl; the test then creates a
// ticket through the front door with that token, reads it back, and stops devstack with SIGINT, which must
// stop everything. Its state is a temporary directory, not the repository's .dev.
//
// Cost: about 15 s with warm caches (initdb, the service builds). It reuses .cache/bin/caddy and
// .cache/bin/nats-server-v*; on a machine without them the first run builds them (minutes).
func TestDevstackPrivateServers(t *testing.T) {
	if os.Getenv("DEVSTACK_TEST_INNER") == "1" {
		innerPrivate(t)
		return
	}
	inNamespace(t, "TestDevstackPrivateServers")
}

// TestDevstackPasswordPostgres is stock Debian's case: a PostgreSQL on 127.0.0.1:5432 that asks for a
// password (scram-sha-256). Without one devstack stops with a line saying how to give it; with PGPASSWORD
// it uses that server, and the stack works through the front door. In a network namespace of its own, as
// above, with its own Postgres there.
func TestDevstackPasswordPostgres(t *testing.T) {
	if os.Getenv("DEVSTACK_TEST_INNER") == "1" {
		innerPassword(t)
		return
	}
	inNamespace(t, "TestDevstackPasswordPostgres")
}

// inNamespace builds devstack, prepares what it needs the network for, and runs the test named test again
// inside `unshare -n`.
func inNamespace(t *testing.T, test string) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("this test runs devstack in a network namespace of its own and needs unshare (util-linux; Debian: apt-get install util-linux), run as root: %v", err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("this test needs ip (iproute2; Debian: apt-get install iproute2) to bring up loopback in its network namespace: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root for unshare -n (a network namespace where the machine's servers are invisible); run make test as root")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "devstack")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Inside the namespace nothing can be downloaded: Caddy, nats-server and
	// the services are built first, out here (the first time on a machine,
	// building Caddy takes minutes).
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	prep := exec.Command(bin, "-prepare")
	prep.Dir = root
	if out, err := prep.CombinedOutput(); err != nil {
		t.Fatalf("devstack -prepare: %v\n%s", err, out)
	}
	// The private Postgres runs as the postgres account, which must reach its data directory: t.TempDir
	// is private to root, so the state lives in a directory of its own under the system's temp dir.
	state, err := os.MkdirTemp("", "devstack-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(state) })
	if err := os.Chmod(state, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, unshare, "-n", os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEVSTACK_TEST_INNER=1", "DEVSTACK_TEST_BIN="+bin, "DEVSTACK_TEST_STATE="+state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the test inside unshare -n failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+test)) {
		t.Fatalf("the test inside unshare -n did not pass:\n%s", out)
	}
	t.Logf("inside unshare -n:\n%s", lastLines(out, 12))
}

// innerPrivate is TestDevstackPrivateServers's body inside the network namespace.
func innerPrivate(t *testing.T) {
	loopbackUp(t)
	for _, port := range []string{"5432", "6379", "4222", "8000"} {
		if listening("127.0.0.1:" + port) {
			t.Fatalf("127.0.0.1:%s answers inside the new network namespace", port)
		}
	}
	state := os.Getenv("DEVSTACK_TEST_STATE")
	d := startDevstack(t, state, nil)
	d.drive([]string{"private, started by make dev from", "127.0.0.1:55432", "127.0.0.1:56379", "127.0.0.1:54222"})
	d.stopAll([]string{"127.0.0.1:55432", "127.0.0.1:56379", "127.0.0.1:54222"})
	if _, err := os.Stat(filepath.Join(state, "postgres", "postmaster.pid")); err == nil {
		t.Errorf("the private Postgres left its postmaster.pid: it did not shut down cleanly")
	}
}

// innerPassword is TestDevstackPasswordPostgres's body inside the network namespace.
func innerPassword(t *testing.T) {
	loopbackUp(t)
	state := os.Getenv("DEVSTACK_TEST_STATE")
	const password = "s3cret-Pw"
	startPasswordPostgres(t, filepath.Join(state, "own-postgres"), password)

	// No password: one line that says how to give it, and no stack.
	d := startDevstack(t, state, []string{"PGPASSWORD="})
	err := d.waitExit(60 * time.Second)
	out := d.output()
	if err == nil || !strings.Contains(out, "127.0.0.1:5432 answers but") || !strings.Contains(out, "PGPASSWORD") {
		t.Fatalf("devstack without the password: %v, want an error naming PGPASSWORD:\n%s", err, out)
	}
	if strings.Contains(out, password) {
		t.Fatalf("devstack printed the password:\n%s", out)
	}

	d = startDevstack(t, state, []string{"PGPASSWORD=" + password})
	d.drive([]string{"postgres://postgres@127.0.0.1:5432/tickets", "(already running)"})
	d.stopAll(nil)
	if strings.Contains(d.output(), password) {
		t.Errorf("devstack printed the password:\n%s", d.output())
	}
}

func loopbackUp(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
}

// startPasswordPostgres runs a PostgreSQL on 127.0.0.1:5432 whose postgres role needs password, as a
// Debian package's does for TCP connections.
func startPasswordPostgres(t *testing.T, dir, password string) {
	t.Helper()
	bin, err := findPostgresBin()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "scram-sha-256",
		"--pwfile", pwfile, "-E", "UTF8", "--no-locale", "--no-instructions")
	if err := runAsPostgresUser(initdb, dir); err != nil {
		t.Fatal(err)
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", "5432", "-h", "127.0.0.1", "-c", "unix_socket_directories=")
	if err := runAsPostgresUser(pg, dir); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	pg.Stdout, pg.Stderr = &log, &log
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = pg.Process.Signal(syscall.SIGINT) // fast shutdown
		_ = pg.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); !listening("127.0.0.1:5432"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the password-protected PostgreSQL did not start:\n%s", log.String())
		}
	}
}

// devstackRun is one devstack process with its merged output.
type devstackRun struct {
	t       *testing.T
	cmd     *exec.Cmd
	mu      sync.Mutex
	logBuf  bytes.Buffer
	banner  chan []string
	scanned chan struct{}
	exited  chan error
	stopped bool
}

// startDevstack runs devstack from the repository root with the test's state directory, without the
// variables that would point it elsewhere, and with env added.
func startDevstack(t *testing.T, state string, env []string) *devstackRun {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Getenv("DEVSTACK_TEST_BIN"), "-state", state)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "DATABASE_URL", "REDIS_URL", "NATS_URL", "HTTP_ADDR", "COMMAND_ADDR", "QUERY_ADDR", "INVALIDATOR_ADDR", "FRONTDOOR_ADDR",
			"AUTH_JWKS_URL", "AUTH_JWT_SECRET", "AUTH_PUBLIC_KEY_FILE", "AUTH_PRIVATE_KEY_FILE", "AUTH_DISABLED", "PGPASSWORD":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &devstackRun{t: t, cmd: cmd, banner: make(chan []string, 1), scanned: make(chan struct{}), exited: make(chan error, 1)}
	go func() {
		defer close(d.scanned)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.logBuf.WriteString(line + "\n")
			d.mu.Unlock()
			if lines != nil || strings.HasPrefix(line, "  front door ") {
				lines = append(lines, line)
			}
			if strings.Contains(line, "Ctrl-C stops everything make dev started.") && lines != nil {
				d.banner <- lines
				lines = nil
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { d.exited <- cmd.Wait(); w.Close() }()
	t.Cleanup(func() { _ = d.stop() })
	return d
}

func (d *devstackRun) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logBuf.String()
}

// waitExit waits for devstack to exit by itself.
func (d *devstackRun) waitExit(limit time.Duration) error {
	select {
	case err := <-d.exited:
		<-d.scanned
		d.stopped = true
		return err
	case <-time.After(limit):
		d.t.Fatalf("devstack still runs after %v:\n%s", limit, d.output())
		return nil
	}
}

// stop sends SIGINT, as Ctrl-C does, and waits for devstack to exit.
func (d *devstackRun) stop() error {
	if d.stopped {
		return nil
	}
	d.stopped = true
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-d.exited:
		<-d.scanned
		return err
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Kill()
		d.t.Errorf("devstack did not stop within 60 s of SIGINT")
		return <-d.exited
	}
}

// drive waits for the banner, checks it names want, runs its first curl through the front door and reads
// the ticket back.
func (d *devstackRun) drive(want []string) {
	t := d.t
	t.Helper()
	var lines []string
	select {
	case lines = <-d.banner:
	case err := <-d.exited:
		<-d.scanned
		d.stopped = true
		t.Fatalf("devstack exited before it was ready (%v):\n%s", err, d.output())
	case <-time.After(150 * time.Second):
		t.Fatalf("no banner from devstack within 150 s:\n%s", d.output())
	}
	text := strings.Join(lines, "\n")
	token := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(text)
	post := regexp.MustCompile(`curl -sS -i -X POST (\S+) -H "Authorization: Bearer \$TOKEN" \\\n\s+-H 'Content-Type: application/json' -d '([^']*)'`).FindStringSubmatch(text)
	if token == nil || post == nil {
		t.Fatalf("the banner lacks the token or the first curl:\n%s", text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the banner lacks %q:\n%s", w, text)
		}
	}

	// The printed first curl, through the front door.
	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, post[1], strings.NewReader(post[2]))
	req.Header.Set("Authorization", "Bearer "+token[1])
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v\n%s", post[1], err, d.output())
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "/tickets/") {
		t.Fatalf("POST %s: %s, Location %q, body %s", post[1], res.Status, loc, body)
	}
	front := strings.TrimSuffix(post[1], "/tickets")
	var got []byte
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, front+loc, http.NoBody)
		req.Header.Set("Authorization", "Bearer "+token[1])
		res, err := client.Do(req)
		if err == nil {
			got, _ = io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s%s never answered 200: %v %s", front, loc, err, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !bytes.Contains(got, []byte("Printer on floor 3 is jammed")) {
		t.Fatalf("GET %s%s: %s, want the ticket just created", front, loc, got)
	}
	t.Logf("created %s and read it back through %s", loc, front)
}

// stopAll stops devstack as Ctrl-C does and checks that the stack and the servers it started (servers)
// are gone.
func (d *devstackRun) stopAll(servers []string) {
	t := d.t
	t.Helper()
	if err := d.stop(); err != nil {
		t.Fatalf("devstack exited with %v after SIGINT:\n%s", err, d.output())
	}
	if !strings.Contains(d.output(), "make dev: stopped") {
		t.Errorf("no \"make dev: stopped\" after SIGINT:\n%s", lastLines([]byte(d.output()), 20))
	}
	for _, addr := range append(servers, "127.0.0.1:8000", "127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083") {
		if listening(addr) {
			t.Errorf("%s still answers after devstack stopped", addr)
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// The Caddy pin is the one mk/stack.mk builds (deploy/stack checks both against
// deploy/caddy/Dockerfile).
func TestCaddyPin(t *testing.T) {
	for _, f := range []struct{ file, re string }{
		{"../../mk/stack.mk", `CADDY_VERSION \?= (v[0-9.]+)`},
	} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(f.re).FindSubmatch(b)
		if m == nil || string(m[1]) != caddyVersion {
			t.Errorf("%s pins Caddy %q, devstack %s: keep them in step", f.file, m, caddyVersion)
		}
	}
}

// Lines of several processes never interleave, and each carries its prefix.
func TestLogMerger(t *testing.T) {
	var out bytes.Buffer
	m := &logMerger{out: &out}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.copyLines("["+name+"] ", strings.NewReader(strings.Repeat(name+name+name+"\n", 200)+name))
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 603 {
		t.Fatalf("%d lines, want 603", len(lines))
	}
	for _, l := range lines {
		name := l[1:2]
		if l != "["+name+"] "+name+name+name && l != "["+name+"] "+name {
			t.Fatalf("mangled line %q", l)
		}
	}
}

// Generated NATS passwords are plain strings to nats-server's config parser:
// a letter first, then only letters and digits.
func TestNATSPasswordsParseAsStrings(t *testing.T) {
	re := regexp.MustCompile(`^[a-z][a-z0-9]{20,}$`)
	for range 200 {
		if p := natsPassword(); !re.MatchString(p) {
			t.Fatalf("password %q", p)
		}
	}
}
