package main

// The fourth step of the order: where the machine lacks a server's binaries but a Docker engine is
// configured, the server runs in a container, started by the program the tests' last resort uses too
// (pkg/testinfra/containers, through testinfra.StartContainer: testcontainers-go and the Docker client live
// in that module of its own, never in this one's graph). It runs compose's images, publishes each on a
// random port, keeps no data (a new container each run), and removes each container when make dev stops;
// testcontainers' reaper (Ryuk) removes it if make dev is killed.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// containerNote ends each container's line in the banner.
const containerNote = "container of compose's image, started by pkg/testinfra/containers; data not kept: a new container each run, removed on Ctrl-C"

// containerStartTimeout bounds a container's start, the first `go run` (a compile) and the pull included.
const containerStartTimeout = 5 * time.Minute

// startContainer starts the container of kind (postgres, redis, nats) with the program's lines in the
// merged log as [containers], waits until probe answers on its URL, and returns that URL. The container is
// d's to stop (d.containers) from its start on, also when the probe then fails.
func (d *devstack) startContainer(ctx context.Context, kind string, probe func(context.Context, string) error) (string, error) {
	d.say("starting a %s container (pkg/testinfra/containers: compiled on first use, the image pulled when missing)", kind)
	sctx, cancel := context.WithTimeout(ctx, containerStartTimeout)
	defer cancel()
	c, err := d.runContainer(sctx, kind, &prefixWriter{logs: d.logs, prefix: "[containers] "})
	if err != nil {
		return "", err
	}
	d.containers = append(d.containers, c)
	if err := awaitProbe(ctx, 30*time.Second, func(ctx context.Context) error { return probe(ctx, c.URL) }); err != nil {
		return "", fmt.Errorf("the %s container answers no handshake on %s: %w", kind, redact(c.URL), err)
	}
	return c.URL, nil
}

// containerDep is what make dev uses of a container's URL. Postgres comes with an admin URL (user, password
// and database postgres): the services get the same server with the database tickets, which up creates
// and migrates as for a server already running. NATS comes without users, as a NATS already running:
// the services connect to it without auth.conf's.
func containerDep(kind, rawURL string) dep {
	switch kind {
	case "postgres":
		return dep{url: withDatabase(rawURL, "tickets"), note: containerNote}
	case "nats":
		return dep{url: rawURL, note: "JetStream on, no users: the services connect without deploy/nats/auth.conf's, as to a NATS already running; " + containerNote}
	}
	return dep{url: rawURL, note: containerNote}
}

// withDatabase is a Postgres URL naming database name instead.
func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func (d *devstack) postgresContainer(ctx context.Context) (dep, error) {
	u, err := d.startContainer(ctx, "postgres", testinfra.ProbePostgres)
	if err != nil {
		return dep{}, err
	}
	return containerDep("postgres", u), nil
}

func (d *devstack) redisContainer(ctx context.Context) (dep, error) {
	u, err := d.startContainer(ctx, "redis", testinfra.ProbeRedis)
	if err != nil {
		return dep{}, err
	}
	return containerDep("redis", u), nil
}

func (d *devstack) natsContainer(ctx context.Context) (dep, error) {
	u, err := d.startContainer(ctx, "nats", testinfra.ProbeNATS)
	if err != nil {
		return dep{}, err
	}
	return containerDep("nats", u), nil
}

// awaitProbe polls probe until it succeeds, ctx ends or timeout passes.
func awaitProbe(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := probe(pctx)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return errors.Join(err, ctx.Err())
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stopContainers stops the containers make dev started, the last started first, each removed before the
// next, and nothing else.
func (d *devstack) stopContainers() {
	for i := len(d.containers) - 1; i >= 0; i-- {
		if err := d.containers[i].Stop(); err != nil {
			d.say("stopping a container: %v", err)
		}
	}
	d.containers = nil
}

// prefixWriter writes each whole line it is given into the merged log, after prefix; a line's end may come
// in a later Write.
type prefixWriter struct {
	logs    *logMerger
	prefix  string
	partial []byte
}

var _ io.Writer = (*prefixWriter)(nil)

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	rest := w.partial
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.logs.printf("%s%s\n", w.prefix, rest[:i])
		rest = rest[i+1:]
	}
	w.partial = append(w.partial[:0], rest...)
	return len(p), nil
}
