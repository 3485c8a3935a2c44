package testinfra

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSServer is an embedded nats-server (the version pinned in go.mod) with JetStream on, for tests that
// take NATS away and bring it back: Stop and Start keep the port, so clients reconnect to the same URL,
// and the store directory, so streams and their messages survive as they would on a real restart.
// It listens on 127.0.0.1 only. Tests that just need a NATS server use NATSURL.
type NATSServer struct {
	mu   sync.Mutex
	dir  string
	conf string
	port int
	srv  *server.Server
}

// StartNATSServer starts a server on a random free port with its store in t.TempDir(), ready for
// connections with JetStream enabled. It is shut down in t.Cleanup.
func StartNATSServer(t testing.TB) *NATSServer {
	t.Helper()
	s := &NATSServer{dir: t.TempDir()}
	if err := s.start(server.RANDOM_PORT); err != nil {
		t.Fatalf("testinfra.StartNATSServer: %v", err)
	}
	t.Cleanup(s.Stop) // registered after TempDir's, so it runs before the directory is removed
	return s
}

// URL returns nats://127.0.0.1:<port>; it stays the same across Stop and Start.
func (s *NATSServer) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "nats://127.0.0.1:" + strconv.Itoa(s.port)
}

// Stop shuts the server down (clients see their connections drop) and returns once the port is closed, so
// that a client's next attempt fails as it would against a dead server. Stopping a stopped server does
// nothing.
func (s *NATSServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
	waitPortClosed("127.0.0.1:"+strconv.Itoa(s.port), 10*time.Second)
}

// Start starts a stopped server again on the same port with the same store, and returns once it accepts
// connections and JetStream has recovered its streams. Starting a running server does nothing.
func (s *NATSServer) Start(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	if err := s.startLocked(s.port); err != nil {
		t.Fatalf("testinfra: restarting the NATS server on port %d: %v", s.port, err)
	}
}

// StartNATSServerWithConfig is StartNATSServer with the settings of a nats-server configuration file
// (users and permissions, limits); its listen address, monitoring port and store directory are replaced
// by the test's own.
func StartNATSServerWithConfig(t testing.TB, file string) *NATSServer {
	t.Helper()
	s := &NATSServer{dir: t.TempDir(), conf: file}
	if err := s.start(server.RANDOM_PORT); err != nil {
		t.Fatalf("testinfra.StartNATSServerWithConfig: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func (s *NATSServer) start(port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startLocked(port)
}

func (s *NATSServer) startLocked(port int) error {
	opts := &server.Options{}
	if s.conf != "" {
		var err error
		if opts, err = server.ProcessConfigFile(s.conf); err != nil {
			return err
		}
	}
	opts.ServerName = "testinfra"
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", port, 0
	opts.JetStream, opts.StoreDir = true, s.dir
	opts.NoLog = true
	opts.NoSigs = true // a test binary's signals are not the server's business
	srv, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	// With NoLog the server would swallow its errors (e.g. "Can't start JetStream"); keep them for the
	// failure message instead of printing a server log into every test's output.
	logs := &errorLog{}
	srv.SetLogger(logs, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("not ready for connections within 10s%s", logs)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("JetStream did not start%s", logs)
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		return errors.New("server has no TCP listener")
	}
	s.port = addr.Port
	s.srv = srv
	return nil
}

func waitPortClosed(addr string, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
}

// errorLog keeps the embedded server's warnings and errors and drops the rest.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) add(format string, v ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, v...))
	l.mu.Unlock()
}

func (l *errorLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return " (server said: " + strings.Join(l.lines, "; ") + ")"
}

func (l *errorLog) Noticef(string, ...any)         {}
func (l *errorLog) Debugf(string, ...any)          {}
func (l *errorLog) Tracef(string, ...any)          {}
func (l *errorLog) Warnf(format string, v ...any)  { l.add(format, v...) }
func (l *errorLog) Errorf(format string, v ...any) { l.add(format, v...) }
func (l *errorLog) Fatalf(format string, v ...any) { l.add(format, v...) }
