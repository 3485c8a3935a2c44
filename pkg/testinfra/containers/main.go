// Command containers starts one server in a container through
// testcontainers-go, for pkg/testinfra's last resort (no TEST_* variable,
// nothing on the local default port, but a Docker engine). It is a module of
// its own so that testcontainers and the Docker client stay out of the
// project's module graph: testinfra runs it with `go run` only when needed.
//
//	go run . postgres|redis|nats
//
// It prints the server's URL on one line, then keeps the container until its
// standard input closes (the test process ended), and removes it.
// testcontainers' reaper (Ryuk) removes it too if this process is killed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "containers:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: containers postgres|redis|nats")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := ping(ctx); err != nil {
		return err
	}
	var (
		ctr testcontainers.Container
		url string
		err error
	)
	switch args[0] {
	case "postgres":
		ctr, url, err = startPostgres(ctx)
	case "redis":
		ctr, url, err = startRedis(ctx)
	case "nats":
		ctr, url, err = startNATS(ctx)
	default:
		return fmt.Errorf("unknown server %q (want postgres, redis or nats)", args[0])
	}
	if err != nil {
		if ctr != nil {
			_ = testcontainers.TerminateContainer(ctr)
		}
		return err
	}
	defer func() { _ = testcontainers.TerminateContainer(ctr) }()
	fmt.Println(url)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test process is gone
	return nil
}

func ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(pctx)
	if err != nil {
		return fmt.Errorf("the Docker engine does not answer: %w", err)
	}
	defer cli.Close()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("the Docker engine does not answer: %w", err)
	}
	return nil
}

func startPostgres(ctx context.Context) (testcontainers.Container, string, error) {
	ctr, err := tcpostgres.Run(ctx, "postgres:16-alpine", tcpostgres.BasicWaitStrategies())
	if err != nil {
		return ctr, "", err
	}
	// User, password and database are all "postgres" by the module's
	// defaults: an admin URL, as from a local server.
	u, err := ctr.ConnectionString(ctx, "sslmode=disable")
	return ctr, u, err
}

func startRedis(ctx context.Context) (testcontainers.Container, string, error) {
	ctr, err := tcredis.Run(ctx, "redis:7-alpine")
	if err != nil {
		return ctr, "", err
	}
	u, err := ctr.ConnectionString(ctx)
	return ctr, u + "/0", err
}

// startNATS uses a generic container: testcontainers-go's nats module is not
// published at v0.45.0 (its last release is v0.40.0), and all it would add is
// these few lines.
func startNATS(ctx context.Context) (testcontainers.Container, string, error) {
	ctr, err := testcontainers.Run(ctx, "nats:2.10-alpine",
		testcontainers.WithCmd("-js"),
		testcontainers.WithExposedPorts("4222/tcp"),
		testcontainers.WithWaitStrategy(wait.ForLog("Server is ready"), wait.ForListeningPort("4222/tcp")),
	)
	if err != nil {
		return ctr, "", err
	}
	u, err := ctr.PortEndpoint(ctx, "4222/tcp", "nats")
	return ctr, u, err
}
