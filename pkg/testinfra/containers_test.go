package testinfra

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// isolateDocker points every place testcontainers looks for an engine at nothing, as far as a test can
// (HOME, XDG_RUNTIME_DIR, DOCKER_CONTEXT, TESTCONTAINERS_*; the go command's caches and settings stay
// where they are), DOCKER_HOST at a socket file in a directory of the test's, and returns that socket's
// path. Only the system's default socket, /var/run/docker.sock, cannot be moved away.
func isolateDocker(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var goEnv map[string]string
	if err := json.Unmarshal(out, &goEnv); err != nil {
		t.Fatalf("go env: %v", err)
	}
	for k, v := range goEnv {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_RUNTIME_DIR", home)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "DOCKER_CONTEXT" || strings.HasPrefix(k, "TESTCONTAINERS_") {
			t.Setenv(k, "") // restored at cleanup
			_ = os.Unsetenv(k)
		}
	}
	sock := filepath.Join(dir, "docker.sock")
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	return sock
}

// defaultEngine reports whether the system's default socket exists, where testcontainers looks after
// DOCKER_HOST: an engine there would answer in place of the one the test names.
func defaultEngine() bool {
	_, err := os.Stat("/var/run/docker.sock")
	return err == nil
}

// StartContainer, for real, where DOCKER_HOST names an engine that is not there, then one that never
// answers: the containers program (compiled by the first `go run`, from the build cache after) must say
// the engine does not answer, within its 5 s bound, not hang; and a start given up (ctx ended) must end
// the program at once.
func TestStartContainerWithoutEngine(t *testing.T) {
	sock := isolateDocker(t)
	if !DockerConfigured() {
		t.Fatal("DOCKER_HOST is set, yet DockerConfigured says no engine is configured")
	}

	t.Run("nothing listening", func(t *testing.T) {
		var stderr SyncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		start := time.Now()
		c, err := StartContainer(ctx, "redis", &stderr)
		took := time.Since(start)
		t.Logf("after %s: %v", took.Round(time.Millisecond), err)
		if err == nil {
			engineElsewhere(t, c)
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("no answer within 3 minutes (the first `go run` compiles the program; is the module cache there?): %v\nthe program said:\n%s", err, stderr.String())
		}
		for _, want := range []string{"the redis container did not start", "the Docker engine does not answer", sock} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), "exit status") {
			t.Errorf("the error keeps go run's exit status line:\n%v", err)
		}
		if !strings.Contains(stderr.String(), "the Docker engine does not answer") {
			t.Errorf("the program's standard error did not reach the caller's writer:\n%s", stderr.String())
		}
	})

	// An engine that accepts and never answers holds the program's ping for its 5 s; ending ctx before
	// closes the program's standard input, which ends the start at once.
	t.Run("given up while the engine is silent", func(t *testing.T) {
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		go func() {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					_ = c.Close()
				}
			}()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		var stderr SyncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		start := time.Now()
		c, err := StartContainer(ctx, "redis", &stderr)
		took := time.Since(start)
		t.Logf("after %s: %v", took.Round(time.Millisecond), err)
		if err == nil {
			engineElsewhere(t, c)
			return
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the error is not ctx's: %v\nthe program said:\n%s", err, stderr.String())
		}
		// The ping alone would have taken 5 s from the program's start.
		if took > 4*time.Second {
			t.Errorf("the start took %s after ctx ended at 1.5 s: closing standard input did not stop the program", took)
		}
	})
}

// engineElsewhere handles a start that succeeded although DOCKER_HOST names no engine: testcontainers
// found one at the system's default socket. That is its documented order, not a fault; the container
// must then work and go away on Stop.
func engineElsewhere(t *testing.T, c *Container) {
	t.Helper()
	if !defaultEngine() {
		_ = c.Stop()
		t.Fatalf("a container started (%s) where DOCKER_HOST names no engine and /var/run/docker.sock is absent", c.URL)
	}
	t.Logf("an engine answers on /var/run/docker.sock, which testcontainers tries after DOCKER_HOST: checking its container instead")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := probeRedis(ctx, c.URL); err != nil {
		t.Errorf("the container's URL %s does not answer: %v", c.URL, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// A failed start's error is the program's own last words, without go run's "exit status" line; a failure
// before the program runs (a compile error) keeps its last lines.
func TestContainerFailureReason(t *testing.T) {
	for _, c := range []struct{ out, want string }{
		{"🐳 something\ncontainers: the Docker engine does not answer: dial unix /x: no such file\nrootless Docker not found\nexit status 1\n",
			"the Docker engine does not answer: dial unix /x: no such file\nrootless Docker not found"},
		{"containers: unknown server \"x\" (want postgres, redis or nats)\nexit status 1\n", "unknown server \"x\" (want postgres, redis or nats)"},
		{"go: downloading x\n# command-line-arguments\n./main.go:1:1: syntax error\n", "go: downloading x\n# command-line-arguments\n./main.go:1:1: syntax error"},
		{"", "the program exited without a word"},
	} {
		w := &tailWriter{w: &SyncBuffer{}}
		_, _ = w.Write([]byte(c.out))
		if got := w.reason(); got != c.want {
			t.Errorf("reason of %q = %q, want %q", c.out, got, c.want)
		}
	}
}

// The containers program runs docker-compose.yml's images, exactly as compose names them (with the
// digest where compose pins one): make dev's containers and compose's are the same servers.
func TestContainerImagesMatchCompose(t *testing.T) {
	dir, err := containersDir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if strings.HasSuffix(name.Name, "Image") && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						images[name.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
		return true
	})
	compose, err := os.ReadFile(filepath.Join(dir, "..", "..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgresImage", "redisImage", "natsImage"} {
		img, ok := images[name]
		if !ok {
			t.Errorf("pkg/testinfra/containers/main.go has no constant %s", name)
			continue
		}
		if !regexp.MustCompile(`(?m)^\s*image:\s*` + regexp.QuoteMeta(img) + `\s*$`).Match(compose) {
			t.Errorf("docker-compose.yml does not run %s (%s in pkg/testinfra/containers/main.go): keep them in step", img, name)
		}
	}
}
