package testinfra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// closedPort returns a port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func noDocker(context.Context) error { return errors.New("no engine found: DOCKER_HOST is unset") }

func TestFindEnvPointsToClosedPort(t *testing.T) {
	t.Parallel()
	env := "postgres://postgres:s3cret@127.0.0.1:" + strconv.Itoa(closedPort(t)) + "/postgres?sslmode=disable"
	s := postgresService
	s.container = func(context.Context) (string, error) { t.Error("container started"); return "", nil }
	start := time.Now()
	_, err := s.find(context.Background(), env, func(context.Context) error { t.Error("docker consulted"); return nil })
	if err == nil {
		t.Fatal("find succeeded against a closed port")
	}
	msg := err.Error()
	t.Logf("message: %s (after %v)", msg, time.Since(start))
	for _, want := range []string{"no PostgreSQL", "TEST_DATABASE_URL=postgres://postgres:xxxxx@127.0.0.1:", "does not answer", "connection refused", "unset it", "127.0.0.1:5432"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Error("message shows the password")
	}
}

func TestFindNothingAnywhere(t *testing.T) {
	t.Parallel()
	urls := map[string]string{
		"PostgreSQL": "postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable",
		"Redis":      "redis://127.0.0.1:%s/0",
		"NATS":       "nats://127.0.0.1:%s",
	}
	for _, s := range []service{postgresService, redisService, natsService} {
		port := strconv.Itoa(closedPort(t))
		s.defaultAddr = "127.0.0.1:" + port
		s.defaultURL = fmt.Sprintf(urls[s.name], port)
		s.container = func(context.Context) (string, error) { t.Error("container started"); return "", nil }
		_, err := s.find(context.Background(), "", noDocker)
		if err == nil {
			t.Fatalf("%s: found something at %s", s.name, s.defaultURL)
		}
		msg := err.Error()
		t.Logf("message: %s", msg)
		want := "no " + s.name + ": set " + s.envVar + ", start one on 127.0.0.1:" + port + ", or run a Docker engine ("
		if !strings.HasPrefix(msg, want) {
			t.Errorf("message does not start with %q", want)
		}
		if !strings.Contains(msg, "connection refused") || !strings.Contains(msg, "DOCKER_HOST is unset") {
			t.Errorf("message lacks the reasons")
		}
	}
}

func TestFindContainerFailure(t *testing.T) {
	t.Parallel()
	s := redisService
	s.defaultURL = "redis://127.0.0.1:" + strconv.Itoa(closedPort(t)) + "/0"
	s.container = func(context.Context) (string, error) { return "", errors.New("pull redis:7-alpine: denied") }
	_, err := s.find(context.Background(), "", func(context.Context) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "starting a Redis container failed: pull redis:7-alpine: denied") ||
		!strings.Contains(err.Error(), "set TEST_REDIS_URL") {
		t.Fatalf("got %v", err)
	}
}

func TestFindContainerWhenDockerAnswers(t *testing.T) {
	t.Parallel()
	s := natsService
	s.defaultURL = "nats://127.0.0.1:" + strconv.Itoa(closedPort(t))
	s.container = func(context.Context) (string, error) { return "nats://127.0.0.1:32768", nil }
	got, err := s.find(context.Background(), "", func(context.Context) error { return nil })
	if err != nil || got != "nats://127.0.0.1:32768" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// The machine's own servers are found at their defaults (or the TEST_* variables are honoured).
func TestFindersFindServers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := probePostgres(ctx, PostgresURL(t)); err != nil {
		t.Error(err)
	}
	if err := probeRedis(ctx, RedisURL(t)); err != nil {
		t.Error(err)
	}
	if err := probeNATS(ctx, NATSURL(t)); err != nil {
		t.Error(err)
	}
}

func TestProbesRejectWrongServers(t *testing.T) {
	t.Parallel()
	n := StartNATSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := probeRedis(ctx, strings.Replace(n.URL(), "nats://", "redis://", 1)); err == nil {
		t.Error("a NATS server passed for Redis")
	}
	if err := probeNATS(ctx, "nats://127.0.0.1:"+strconv.Itoa(closedPort(t))+", "+n.URL()); err != nil {
		t.Errorf("a URL list with one live server: %v", err)
	}
	if err := probeRedis(ctx, "http://127.0.0.1:6379"); err == nil || !strings.Contains(err.Error(), "scheme") {
		t.Errorf("bad scheme: %v", err)
	}
}

// On a machine without Docker, the container path must cost nothing.
func TestDockerCheckIsFast(t *testing.T) {
	t.Parallel()
	start := time.Now()
	err := dockerAvailable(context.Background())
	took := time.Since(start)
	t.Logf("dockerAvailable: %v after %v", err, took)
	if took > 2500*time.Millisecond {
		t.Errorf("took %v", took)
	}
}
