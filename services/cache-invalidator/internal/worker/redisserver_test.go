package worker_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// redisServer is a redis-server process of the test's own, so the test can
// stop and start it without disturbing the shared one. Data survives a
// restart (SHUTDOWN SAVE, then the dump is loaded), as on a real restart
// with persistence.
type redisServer struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	exit chan struct{} // closed when the process has exited
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		bin = "/usr/bin/redis-server"
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("this test runs its own Redis and needs redis-server on PATH or at /usr/bin/redis-server "+
				"(Debian: apt-get install redis-server): %v", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &redisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.Start()
	t.Cleanup(func() {
		if s.cmd != nil {
			_ = s.cmd.Process.Kill()
			<-s.exit
		}
	})
	return s
}

func (s *redisServer) URL() string {
	return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0"
}

// Start runs the server and returns once it answers PING.
func (s *redisServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.exit = make(chan struct{})
	go func(c *exec.Cmd, exit chan struct{}) {
		_ = c.Wait() // a killed or shut-down server exits non-zero
		close(exit)
	}(s.cmd, s.exit)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), MaxRetries: -1})
	defer c.Close()
	testinfra.Eventually(s.t, 10*time.Second, func() bool {
		return c.Ping(context.Background()).Err() == nil
	}, "redis-server on port %d never answered", s.port)
}

// Stop saves the data and shuts the server down; it returns once the
// process is gone, so clients get connection refused.
func (s *redisServer) Stop() {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), MaxRetries: -1})
	_ = c.Do(context.Background(), "SHUTDOWN", "SAVE").Err() // the connection drops: no reply
	_ = c.Close()
	select {
	case <-s.exit:
	case <-time.After(10 * time.Second):
		s.t.Fatal("redis-server did not exit after SHUTDOWN")
	}
	s.cmd = nil
}
