package testinfra

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisServerStartTimeout is how long a started redis-server gets to answer PING; it starts in
// milliseconds, so this only matters on a badly loaded machine.
const redisServerStartTimeout = 10 * time.Second

// RedisServer is a redis-server process of the test's own, for tests that take Redis away and bring it
// back (an outage, a restart), which they cannot do to the server other tests share. Stop and Start keep
// the port, so clients find the server again on the same URL, and the data: Stop saves it and Start loads
// it, as a real restart with persistence does. A test that wants an empty server back (a replaced cache
// node) sends FLUSHALL before Stop. It listens on 127.0.0.1 only and writes only in a t.TempDir().
type RedisServer struct {
	t    testing.TB // Stop's failures are reported here
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	out    *SyncBuffer   // the process's output, for failure messages
	exited chan struct{} // closed once cmd has exited
}

// StartRedisServer starts redis-server (the machine's binary, found on PATH or in /usr/bin) on a free
// port and returns once it answers PING. It is killed in t.Cleanup. The test fails at once, saying what
// to install, if there is no redis-server: the test would otherwise fail later for a reason that is hard
// to see.
func StartRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		bin = "/usr/bin/redis-server"
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("testinfra.StartRedisServer: this test runs a Redis of its own and needs redis-server on "+
				"PATH or at %s (Debian and Ubuntu: apt-get install redis-server): %v", bin, err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testinfra.StartRedisServer: finding a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := &RedisServer{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.Start(t)
	t.Cleanup(s.kill) // registered after TempDir's, so it runs before the directory is removed
	return s
}

// URL returns redis://127.0.0.1:<port>/0; it stays the same across Stop and Start.
func (s *RedisServer) URL() string {
	return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0"
}

// Addr returns 127.0.0.1:<port>, for clients configured by address rather than URL.
func (s *RedisServer) Addr() string {
	return "127.0.0.1:" + strconv.Itoa(s.port)
}

// Start runs a stopped server again on the same port, with the data Stop saved, and returns once it
// answers PING. Starting a running server does nothing.
func (s *RedisServer) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	out := &SyncBuffer{}
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testinfra: starting %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // a killed or shut-down server exits non-zero
		close(exited)
	}()
	s.cmd, s.out, s.exited = cmd, out, exited

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	Eventually(t, redisServerStartTimeout, func() bool {
		select {
		case <-exited:
			s.cmd = nil
			t.Fatalf("testinfra: redis-server on port %d exited at start: %s", s.port, out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	}, "redis-server on port %d never answered PING: %s", s.port, out)
}

// Stop saves the data and shuts the server down (SHUTDOWN SAVE), and returns once the process has
// exited, so that clients' next attempts are refused as they would be by a dead server. Stopping a
// stopped server does nothing. Call it from the test's goroutine: it fails the test if the server does
// not go.
func (s *RedisServer) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err := c.Do(ctx, "SHUTDOWN", "SAVE").Err() // on success the connection just drops: no reply
	cancel()
	_ = c.Close()
	var refused redis.Error
	if errors.As(err, &refused) {
		s.killLocked()
		s.t.Fatalf("testinfra: redis-server on port %d refused SHUTDOWN SAVE (%v), killed it: %s", s.port, err, s.out)
	}
	select {
	case <-s.exited:
		s.cmd = nil
	case <-time.After(10 * time.Second):
		s.killLocked()
		s.t.Fatalf("testinfra: redis-server on port %d still running 10s after SHUTDOWN SAVE, killed it: %s", s.port, s.out)
	}
}

// kill ends the process at cleanup; nothing needs its data any more.
func (s *RedisServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *RedisServer) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}
