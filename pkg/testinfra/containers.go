package testinfra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The container path is the last resort (no TEST_* variable, nothing on the local default port). Its
// containers are started at most once per test process (the finders cache their answer) and are shared by
// all its tests; testcontainers' reaper (Ryuk) removes them when the process exits, so nothing here stops
// them.

// dockerAvailable says whether a Docker engine answers. It first looks for any sign of one without touching
// the network, so that on machines without Docker (like the dev machines) this path costs nothing.
func dockerAvailable(ctx context.Context) error {
	if !dockerConfigured() {
		return errors.New("no engine found: DOCKER_HOST is unset and /var/run/docker.sock does not exist")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("engine does not answer: %w", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("engine does not answer: %w", err)
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

func startPostgresContainer(ctx context.Context) (string, error) {
	ctr, err := tcpostgres.Run(ctx, "postgres:16-alpine", tcpostgres.BasicWaitStrategies())
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return "", err
	}
	// User, password and database are all "postgres" by the module's defaults: an admin URL, as from a
	// local server.
	return ctr.ConnectionString(ctx, "sslmode=disable")
}

func startRedisContainer(ctx context.Context) (string, error) {
	ctr, err := tcredis.Run(ctx, "redis:7-alpine")
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return "", err
	}
	u, err := ctr.ConnectionString(ctx)
	if err != nil {
		return "", err
	}
	return u + "/0", nil
}

// startNATSContainer uses a generic container: testcontainers-go's nats module is not published at v0.45.0
// (its last release is v0.40.0), and all it would add is these few lines.
func startNATSContainer(ctx context.Context) (string, error) {
	ctr, err := testcontainers.Run(ctx, "nats:2.10-alpine",
		testcontainers.WithCmd("-js"),
		testcontainers.WithExposedPorts("4222/tcp"),
		testcontainers.WithWaitStrategy(
			wait.ForLog("Server is ready"),
			wait.ForListeningPort("4222/tcp"),
		),
	)
	if err != nil {
		_ = testcontainers.TerminateContainer(ctr)
		return "", err
	}
	return ctr.PortEndpoint(ctx, "4222/tcp", "nats")
}
