// Command containers starts one server in a container through
// testcontainers-go, for the last resort of pkg/testinfra's tests (no TEST_*
// variable, nothing on the local default port, but a Docker engine) and of
// make dev (cmd/devstack: no *_URL variable, nothing on the default port, no
// binaries, but a Docker engine). It is a module of its own so that
// testcontainers and the Docker client stay out of the project's module
// graph: pkg/testinfra (StartContainer) runs it with `go run` only when needed.
//
//	go run . postgres|redis|nats
//
// It prints the server's URL on one line, then keeps the container until its
// standard input closes (the caller stopped it, or ended), and removes it;
// SIGTERM and SIGHUP do the same. SIGINT is ignored: the terminal's Ctrl-C
// reaches the whole foreground process group, and stopping is the caller's
// call, after what depends on the server. testcontainers' reaper (Ryuk)
// removes the container too if this process is killed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
	"github.com/testcontainers/testcontainers-go/wait"
)

// The images are docker-compose.yml's, exactly as it names them (a digest
// besides the tag where compose pins one); pkg/testinfra's
// TestContainerImagesMatchCompose keeps them in step.
const (
	postgresImage = "postgres:16-alpine@sha256:57c72fd2a128e416c7fcc499958864df5301e940bca0a56f58fddf30ffc07777"
	redisImage    = "redis:7-alpine@sha256:6ab0b6e7381779332f97b8ca76193e45b0756f38d4c0dcda72dbb3c32061ab99"
	natsImage     = "nats:2.15.2-alpine"
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
	start, ok := map[string]func(context.Context) (testcontainers.Container, string, error){
		"postgres": startPostgres,
		"redis":    startRedis,
		"nats":     startNATS,
	}[args[0]]
	if !ok {
		return fmt.Errorf("unknown server %q (want postgres, redis or nats)", args[0])
	}

	// SIGPIPE too: when the caller is gone, a line to its closed standard
	// error must not kill this process before it removes its container.
	signal.Ignore(os.Interrupt, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// The end of standard input ends everything, also a start under way.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()

	sctx, scancel := context.WithTimeout(ctx, 3*time.Minute)
	defer scancel()
	var (
		ctr testcontainers.Container
		url string
	)
	err := ping(sctx)
	if err == nil {
		ctr, url, err = start(sctx)
	}
	if ctr != nil {
		defer func() {
			if err := testcontainers.TerminateContainer(ctr); err != nil {
				fmt.Fprintln(os.Stderr, "containers: removing the container:", err)
			}
		}()
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped before the %s container was ready: %w", args[0], err)
		}
		return err
	}
	fmt.Println(url)
	<-ctx.Done() // until the caller closes standard input, or ends
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
	ctr, err := tcpostgres.Run(ctx, postgresImage, tcpostgres.BasicWaitStrategies())
	if err != nil {
		return ctr, "", err
	}
	// User, password and database are all "postgres" by the module's
	// defaults: an admin URL, as from a local server.
	u, err := ctr.ConnectionString(ctx, "sslmode=disable")
	return ctr, u, err
}

func startRedis(ctx context.Context) (testcontainers.Container, string, error) {
	ctr, err := tcredis.Run(ctx, redisImage)
	if err != nil {
		return ctr, "", err
	}
	u, err := ctr.ConnectionString(ctx)
	return ctr, u + "/0", err
}

// startNATS uses a generic container: testcontainers-go's nats module is not
// published at v0.45.0 (its last release is v0.40.0), and all it would add is
// these few lines. JetStream on, no users.
func startNATS(ctx context.Context) (testcontainers.Container, string, error) {
	ctr, err := testcontainers.Run(ctx, natsImage,
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
