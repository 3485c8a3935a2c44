package testinfra

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// The container path is the last resort, of the tests (no TEST_* variable, nothing on the local default
// port) and of make dev (cmd/devstack: no *_URL variable, nothing on the default port, no binaries). The
// containers are started by the program in ./containers, a module of its own, so that testcontainers-go
// and the Docker client stay out of the project's module graph: StartContainer runs it with `go run`
// (compiled on first use, from the build cache after). The program removes its container when its
// standard input closes (Container.Stop, or the end of the process that started it), and testcontainers'
// reaper (Ryuk) does if the program is killed.

// DockerConfigured reports whether a Docker engine is configured on this machine (DOCKER_HOST,
// DOCKER_CONTEXT, a Docker socket, or a testcontainers configuration file), without touching the network:
// where Docker is absent, asking costs nothing. Whether the engine answers is the containers program's to
// find out (StartContainer then fails saying the engine does not answer).
func DockerConfigured() bool { return dockerConfigured() }

// dockerAvailable is DockerConfigured with the reason when not, for the tests' finders.
func dockerAvailable(context.Context) error {
	if !dockerConfigured() {
		return errors.New("no engine found: DOCKER_HOST is unset and /var/run/docker.sock does not exist")
	}
	return nil
}

// dockerConfigured reports whether any of the places testcontainers looks for an engine is set up.
func dockerConfigured() bool {
	if os.Getenv("DOCKER_HOST") != "" || os.Getenv("DOCKER_CONTEXT") != "" {
		return true
	}
	paths := []string{"/var/run/docker.sock", "/run/docker.sock"}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		paths = append(paths, filepath.Join(d, "docker.sock"), filepath.Join(d, ".docker", "run", "docker.sock"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths,
			filepath.Join(home, ".testcontainers.properties"),
			filepath.Join(home, ".docker", "run", "docker.sock"),
			filepath.Join(home, ".docker", "desktop", "docker.sock"),
			filepath.Join(home, ".docker", "contexts", "meta"), // `docker context use` pointing elsewhere
		)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// containerStopTimeout bounds Stop: the program stops and removes its container (testcontainers' stop
// timeout is 10 s), then exits.
const containerStopTimeout = time.Minute

// Container is one server the containers program runs in a Docker container: postgres, redis or nats.
type Container struct {
	// URL is the server's, as the program printed it: for postgres an admin URL (user, password and
	// database "postgres"), for redis database 0, for nats a server without users, JetStream on.
	URL string

	kind     string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stopOnce sync.Once
	stopErr  error
}

// StartContainer runs `go run . kind` in pkg/testinfra/containers (kind: postgres, redis or nats) and
// returns when the program has printed the server's URL. The program's standard error (testcontainers'
// lines: the pull, the start, a failed container's logs) goes to stderr (os.Stderr when nil). ctx bounds
// the start only: when it ends first, the program is stopped (its container removed) and the error is
// ctx's. When the program fails (no engine answers, the pull fails), the error says why, in the program's
// own words. The container lives until Stop, or until the calling process ends.
func StartContainer(ctx context.Context, kind string, stderr io.Writer) (*Container, error) {
	dir, err := containersDir()
	if err != nil {
		return nil, err
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	errTail := &tailWriter{w: stderr}
	cmd := exec.Command("go", "run", ".", kind)
	cmd.Dir = dir
	cmd.Stderr = errTail
	// After the program exits, whatever still holds its standard error (nothing, normally) is not waited
	// for long.
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("go run %s: %w", dir, err)
	}
	c := &Container{kind: kind, cmd: cmd, stdin: stdin}
	type result struct {
		line string
		err  error
	}
	first := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		first <- result{line, err}
		// The program prints nothing more; reading on keeps a stray line from blocking it.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case r := <-first:
		if r.err == nil && strings.TrimSpace(r.line) != "" {
			c.URL = strings.TrimSpace(r.line)
			return c, nil
		}
		// The program ended without a URL: its last words say why.
		_ = c.Stop()
		return nil, fmt.Errorf("the %s container did not start: %s", kind, errTail.reason())
	case <-ctx.Done():
		// Closing its standard input makes the program give up the start and remove what it created.
		_ = c.Stop()
		return nil, fmt.Errorf("the %s container did not start: %w", kind, ctx.Err())
	}
}

// Stop closes the program's standard input and waits until it has removed its container and exited (a
// minute at most; then it is killed, and testcontainers' reaper removes the container shortly). Calling it
// again returns the first answer.
func (c *Container) Stop() error {
	c.stopOnce.Do(func() {
		if c.cmd == nil {
			return
		}
		_ = c.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				c.stopErr = fmt.Errorf("the %s container's program: %w", c.kind, err)
			}
		case <-time.After(containerStopTimeout):
			_ = c.cmd.Process.Kill()
			if err := <-done; err != nil {
				c.stopErr = fmt.Errorf("the %s container's program did not exit within %s and was killed (%w); testcontainers' reaper removes the container shortly",
					c.kind, containerStopTimeout, err)
			}
		}
	})
	return c.stopErr
}

// containersDir is the containers program's directory: beside this file when its source is where it was
// compiled from (tests, make dev's build), else in the module root of the working directory.
func containersDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "containers")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("cannot locate pkg/testinfra/containers: %w", err)
	}
	dir := filepath.Join(root, "pkg", "testinfra", "containers")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot locate pkg/testinfra/containers: %w", err)
	}
	return dir, nil
}

// tailWriter passes everything to w and keeps the last few KiB, for the reason of a failed start.
type tailWriter struct {
	w    io.Writer
	mu   sync.Mutex
	tail []byte
}

const tailSize = 8 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.tail = append(t.tail, p...)
	if len(t.tail) > tailSize {
		t.tail = append([]byte(nil), t.tail[len(t.tail)-tailSize:]...)
	}
	t.mu.Unlock()
	return t.w.Write(p)
}

// exitStatusLine is what `go run` adds when the program fails.
var exitStatusLine = regexp.MustCompile(`(?m)^exit status \d+\s*$`)

// reason is the program's last error ("containers: ..."), or else the last lines written (a compile error
// of `go run`, say).
func (t *tailWriter) reason() string {
	t.mu.Lock()
	b := string(t.tail)
	t.mu.Unlock()
	const prefix = "containers: "
	if i := strings.LastIndex("\n"+b, "\n"+prefix); i >= 0 {
		b = b[i+len(prefix):]
	} else {
		lines := strings.Split(strings.TrimSpace(b), "\n")
		if len(lines) > 5 {
			lines = lines[len(lines)-5:]
		}
		b = strings.Join(lines, "\n")
	}
	b = strings.TrimSpace(exitStatusLine.ReplaceAllString(b, ""))
	if b == "" {
		return "the program exited without a word"
	}
	return b
}

// helpers keeps the tests' containers (their programs' standard input open) for the life of the test
// process: one per kind at most, as the finders cache their answer.
var (
	helpersMu sync.Mutex
	helpers   []*Container
)

func startPostgresContainer(ctx context.Context) (string, error) {
	return startContainer(ctx, "postgres")
}
func startRedisContainer(ctx context.Context) (string, error) { return startContainer(ctx, "redis") }
func startNATSContainer(ctx context.Context) (string, error)  { return startContainer(ctx, "nats") }

// startContainer is StartContainer for the tests' finders: the program's lines on the test's standard
// error, the container kept until the test process ends.
func startContainer(ctx context.Context, kind string) (string, error) {
	c, err := StartContainer(ctx, kind, os.Stderr)
	if err != nil {
		return "", err
	}
	helpersMu.Lock()
	helpers = append(helpers, c)
	helpersMu.Unlock()
	return c.URL, nil
}
