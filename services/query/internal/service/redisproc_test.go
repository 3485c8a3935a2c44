package service_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

const redisServerBin = "/usr/bin/redis-server"

// redisProc is a redis-server process the test owns, so it can take Redis
// away and bring it back on the same port. No persistence: a restart comes
// back empty, like a failed-over cache node.
type redisProc struct {
	t    testing.TB
	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

// startRedis starts a redis-server on a free loopback port; it is stopped in
// t.Cleanup.
func startRedis(t testing.TB) *redisProc {
	t.Helper()
	if _, err := os.Stat(redisServerBin); err != nil {
		t.Fatalf("%s is missing (%v): the Redis outage tests run their own redis-server; "+
			"install it (Debian: apt-get install redis-server)", redisServerBin, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	p := &redisProc{t: t, port: port, dir: t.TempDir()}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the same across Stop and Start.
func (p *redisProc) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(p.port) + "/0" }

// Start runs redis-server and returns once it answers PING.
func (p *redisProc) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	out := &bytes.Buffer{}
	cmd := exec.Command(redisServerBin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", p.dir, "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", redisServerBin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.out, p.done = cmd, out, done

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p.port), MaxRetries: -1})
	defer rdb.Close()
	testinfra.Eventually(p.t, 10*time.Second, func() bool {
		select {
		case <-done:
			p.t.Fatalf("redis-server on port %d exited at start: %s", p.port, out)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Ping(ctx).Err() == nil
	}, "redis-server on port %d never answered PING", p.port)
}

// Stop terminates redis-server (SIGTERM, then SIGKILL) and returns once the
// process has exited, so the next connection attempt is refused.
func (p *redisProc) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

func (p *redisProc) String() string { return fmt.Sprintf("redis-server :%d", p.port) }
