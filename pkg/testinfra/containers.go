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
	"runtime"
	"strings"
	"sync"
)

// The container path is the last resort (no TEST_* variable, nothing on the local default port). The
// containers are started by the program in ./containers, a module of its own, so that testcontainers-go
// and the Docker client stay out of the project's module graph. Each is started at most once per test
// process (the finders cache their answer) and shared by all its tests; the program removes its container
// when the test process ends and its standard input closes, and testcontainers' reaper (Ryuk) does if it
// is killed.

// dockerAvailable says whether a Docker engine may be there, without touching the network, so that on
// machines without Docker (like the dev machines) this path costs nothing. The container program pings the
// engine itself and says so when it does not answer.
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

// helpers keeps the container programs' standard input open for the life of the test process.
var (
	helpersMu sync.Mutex
	helpers   []io.WriteCloser
)

func startPostgresContainer(ctx context.Context) (string, error) {
	return startContainer(ctx, "postgres")
}
func startRedisContainer(ctx context.Context) (string, error) { return startContainer(ctx, "redis") }
func startNATSContainer(ctx context.Context) (string, error)  { return startContainer(ctx, "nats") }

// startContainer runs `go run . <kind>` in ./containers and returns the URL it prints.
func startContainer(ctx context.Context, kind string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate pkg/testinfra/containers")
	}
	cmd := exec.CommandContext(ctx, "go", "run", ".", kind)
	cmd.Dir = filepath.Join(filepath.Dir(file), "containers")
	cmd.Stderr = os.Stderr
	cmd.Cancel = func() error { return nil } // ctx bounds the start only; the program lives on
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("go run %s: %w", cmd.Dir, err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return "", fmt.Errorf("the %s container did not start (its error is above)", kind)
	}
	helpersMu.Lock()
	helpers = append(helpers, stdin)
	helpersMu.Unlock()
	return strings.TrimSpace(line), nil
}
