package natsconn_test

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

func TestConnectSurvivesAnOutage(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	log := slog.New(slog.DiscardHandler)
	nc, err := natsconn.Connect(srv.URL(), "", "natsconn-test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.IsConnected() || nc.Opts.Name != "natsconn-test" {
		t.Fatalf("connected=%v name=%q", nc.IsConnected(), nc.Opts.Name)
	}
	srv.Stop()
	testinfra.Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "never noticed the outage")
	srv.Start(t)
	testinfra.Eventually(t, 10*time.Second, nc.IsConnected, "never reconnected")
}

// With NATS down at start the connection is still made, and connects later.
func TestConnectWhileDownAndBadCreds(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	url := srv.URL()
	srv.Stop()
	nc, err := natsconn.Connect(url, "", "late", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect while down: %v", err)
	}
	defer nc.Close()
	srv.Start(t)
	testinfra.Eventually(t, 10*time.Second, nc.IsConnected, "never connected once NATS was up")

	missing := filepath.Join(t.TempDir(), "nope.creds")
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("test setup")
	}
	if _, err := natsconn.Connect(url, missing, "creds", slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing credentials file was accepted")
	}
}

// With NoLateWrites a publish while disconnected fails at once instead of
// waiting in a buffer for the next connection, and nothing of it reaches
// the server after the reconnect.
func TestNoLateWritesFailsWhileDisconnected(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	log := slog.New(slog.DiscardHandler)
	nc, err := natsconn.Connect(srv.URL(), "", "relay", log, natsconn.NoLateWrites()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("late.x", []byte("while up")); err != nil {
		t.Fatalf("publish while connected: %v", err)
	}
	srv.Stop()
	testinfra.Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "never noticed the outage")
	if err := nc.Publish("late.x", []byte("while down")); !errors.Is(err, nats.ErrReconnectBufExceeded) {
		t.Fatalf("publish while disconnected: %v, want nats.ErrReconnectBufExceeded", err)
	}

	srv.Start(t)
	testinfra.Eventually(t, 10*time.Second, nc.IsConnected, "never reconnected")
	// The server sees what is published now, and nothing from before.
	sub, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got, err := sub.SubscribeSync("late.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("late.x", []byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := got.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "after" {
		t.Fatalf("first message after the reconnect: %v %v", m, err)
	}
}

// With Liveness a hung server (its connection open, nothing answered) is
// noticed in a few ping intervals, not nats.go's 2 minutes times 3.
func TestLivenessNoticesAHungServer(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	p := startProxy(t, strings.TrimPrefix(srv.URL(), "nats://"))
	nc, err := natsconn.Connect("nats://"+p.addr(), "", "hung", slog.New(slog.DiscardHandler),
		natsconn.Liveness(100*time.Millisecond, 2)...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	testinfra.Eventually(t, 5*time.Second, nc.IsConnected, "never connected through the proxy")
	frozen := time.Now()
	p.freeze()
	testinfra.Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "a hung server went unnoticed")
	if d := time.Since(frozen); d > 2*time.Second {
		t.Fatalf("noticed after %v", d)
	}
}

// proxy forwards TCP connections to a server until frozen; then it reads
// nothing more and writes nothing, as a hung machine whose kernel still
// holds the connections open.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen bool
	thaw   *sync.Cond
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.thaw = sync.NewCond(&p.mu)
	var conns []net.Conn
	var connsMu sync.Mutex
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		p.frozen = false
		p.thaw.Broadcast()
		p.mu.Unlock()
		connsMu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		connsMu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				_ = c.Close()
				continue
			}
			connsMu.Lock()
			conns = append(conns, c, u)
			connsMu.Unlock()
			go p.pipe(u, c)
			go p.pipe(c, u)
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		p.mu.Lock()
		for p.frozen {
			p.thaw.Wait()
		}
		p.mu.Unlock()
		n, err := src.Read(buf)
		if err != nil {
			_ = dst.Close()
			return
		}
		p.mu.Lock()
		for p.frozen {
			p.thaw.Wait()
		}
		p.mu.Unlock()
		if _, err := dst.Write(buf[:n]); err != nil {
			_ = src.Close()
			return
		}
	}
}
