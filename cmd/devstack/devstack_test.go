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
		inner(t)
		return
	}
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
	cmd := exec.CommandContext(ctx, unshare, "-n", os.Args[0], "-test.run=^TestDevstackPrivateServers$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "DEVSTACK_TEST_INNER=1", "DEVSTACK_TEST_BIN="+bin, "DEVSTACK_TEST_STATE="+state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the test inside unshare -n failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestDevstackPrivateServers")) {
		t.Fatalf("the test inside unshare -n did not pass:\n%s", out)
	}
	t.Logf("inside unshare -n:\n%s", lastLines(out, 12))
}

// inner is the test's body inside the network namespace.
func inner(t *testing.T) {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v\n%s", err, out)
	}
	for _, port := range []string{"5432", "6379", "4222", "8000"} {
		if listening("127.0.0.1:" + port) {
			t.Fatalf("127.0.0.1:%s answers inside the new network namespace", port)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	state := os.Getenv("DEVSTACK_TEST_STATE")
	cmd := exec.Command(os.Getenv("DEVSTACK_TEST_BIN"), "-state", state)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "DATABASE_URL", "REDIS_URL", "NATS_URL", "HTTP_ADDR", "COMMAND_ADDR", "QUERY_ADDR", "INVALIDATOR_ADDR", "FRONTDOOR_ADDR",
			"AUTH_JWKS_URL", "AUTH_JWT_SECRET", "AUTH_PUBLIC_KEY_FILE", "AUTH_PRIVATE_KEY_FILE", "AUTH_DISABLED":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		logBuf bytes.Buffer
	)
	banner := make(chan []string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			logBuf.WriteString(line + "\n")
			mu.Unlock()
			if lines != nil || strings.HasPrefix(line, "  front door ") {
				lines = append(lines, line)
			}
			if strings.Contains(line, "Ctrl-C stops everything make dev started.") && lines != nil {
				banner <- lines
				lines = nil
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); w.Close() }()
	output := func() string {
		mu.Lock()
		defer mu.Unlock()
		return logBuf.String()
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-exited:
			<-scanned
			return err
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("devstack did not stop within 60 s of SIGINT")
			return <-exited
		}
	}
	t.Cleanup(func() { _ = stop() })

	var lines []string
	select {
	case lines = <-banner:
	case err := <-exited:
		<-scanned
		stopped = true
		t.Fatalf("devstack exited before it was ready (%v):\n%s", err, output())
	case <-time.After(150 * time.Second):
		t.Fatalf("no banner from devstack within 150 s:\n%s", output())
	}
	text := strings.Join(lines, "\n")
	token := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(text)
	post := regexp.MustCompile(`curl -sS -i -X POST (\S+) -H "Authorization: Bearer \$TOKEN" \\\n\s+-H 'Content-Type: application/json' -d '([^']*)'`).FindStringSubmatch(text)
	if token == nil || post == nil {
		t.Fatalf("the banner lacks the token or the first curl:\n%s", text)
	}
	for _, want := range []string{"private, started by make dev from", "127.0.0.1:55432", "127.0.0.1:56379", "127.0.0.1:54222"} {
		if !strings.Contains(text, want) {
			t.Errorf("the banner lacks %q:\n%s", want, text)
		}
	}

	// The printed first curl, through the front door.
	client := &http.Client{Timeout: 10 * time.Second}
	req, _ := http.NewRequest(http.MethodPost, post[1], strings.NewReader(post[2]))
	req.Header.Set("Authorization", "Bearer "+token[1])
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v\n%s", post[1], err, output())
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

	// Ctrl-C stops everything devstack started.
	if err := stop(); err != nil {
		t.Fatalf("devstack exited with %v after SIGINT:\n%s", err, output())
	}
	if !strings.Contains(output(), "make dev: stopped") {
		t.Errorf("no \"make dev: stopped\" after SIGINT:\n%s", lastLines([]byte(output()), 20))
	}
	for _, addr := range []string{"127.0.0.1:55432", "127.0.0.1:56379", "127.0.0.1:54222", "127.0.0.1:8000", "127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"} {
		if listening(addr) {
			t.Errorf("%s still answers after devstack stopped", addr)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "postgres", "postmaster.pid")); err == nil {
		t.Errorf("the private Postgres left its postmaster.pid: it did not shut down cleanly")
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
