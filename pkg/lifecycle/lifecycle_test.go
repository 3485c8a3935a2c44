package lifecycle_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

var quiet = slog.New(slog.DiscardHandler)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// steps records what happened, in order, from several goroutines.
type steps struct {
	mu   sync.Mutex
	list []string
}

func (s *steps) add(v string) { s.mu.Lock(); s.list = append(s.list, v); s.mu.Unlock() }
func (s *steps) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// The order of a shutdown: new connections refused, the request in flight
// finishes, then the workers stop, then the closers run, last first.
func TestRunStopsInOrder(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	var s steps
	inFlight, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(inFlight)
		<-release
		s.add("request done")
		_, _ = io.WriteString(w, "done")
	})
	worker := func(name string) lifecycle.Worker {
		return lifecycle.Worker{Name: name, Run: func(ctx context.Context) error {
			<-ctx.Done()
			s.add(name + " stopped")
			return nil
		}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- lifecycle.Run(ctx, lifecycle.Spec{
			Log: quiet, Listener: ln, Handler: h, ShutdownTimeout: 5 * time.Second,
			Workers:    []lifecycle.Worker{worker("relay")},
			OnShutdown: []func(){func() { s.add("shutdown began") }},
			Closers:    []func(){func() { s.add("pool closed") }, func() { s.add("nats closed") }},
		})
	}()
	body := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			body <- err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		body <- string(b)
	}()
	<-inFlight
	cancel()
	testinfra.Eventually(t, 5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, "new connections are still accepted after the shutdown began")
	// net/http runs the OnShutdown hooks in goroutines of their own.
	testinfra.Eventually(t, 5*time.Second, func() bool { return slices.Equal(s.get(), []string{"shutdown began"}) },
		"before the request finished: %v", s.get())
	close(release)
	if b := <-body; b != "done" {
		t.Fatalf("the request in flight got %q", b)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	want := []string{"shutdown began", "request done", "relay stopped", "nats closed", "pool closed"}
	if got := s.get(); !slices.Equal(got, want) {
		t.Fatalf("steps %v, want %v", got, want)
	}
}

// A worker that stops by itself takes the process down with its error.
func TestRunStopsWhenAWorkerStops(t *testing.T) {
	t.Parallel()
	boom := errors.New("lost the consumer")
	otherStopped := make(chan struct{})
	err := lifecycle.Run(context.Background(), lifecycle.Spec{
		Log: quiet, Listener: listen(t), Handler: http.NotFoundHandler(), ShutdownTimeout: time.Second,
		Workers: []lifecycle.Worker{
			{Name: "consumer", Run: func(context.Context) error { return boom }},
			{Name: "other", Run: func(ctx context.Context) error { <-ctx.Done(); close(otherStopped); return nil }},
		},
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "consumer") {
		t.Fatalf("%v, want the worker's error, named", err)
	}
	select {
	case <-otherStopped:
	default:
		t.Fatal("the other worker was not stopped")
	}
	err = lifecycle.Run(context.Background(), lifecycle.Spec{
		Log: quiet, Listener: listen(t), Handler: http.NotFoundHandler(), ShutdownTimeout: time.Second,
		Workers: []lifecycle.Worker{{Name: "relay", Run: func(context.Context) error { return nil }}},
	})
	if err == nil || !strings.Contains(err.Error(), "relay stopped") {
		t.Fatalf("a worker returning nil early: %v", err)
	}
}

// A request that outlives the shutdown timeout is cut off, and Run says so.
func TestRunShutdownTimeout(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	inFlight, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- lifecycle.Run(ctx, lifecycle.Spec{Log: quiet, Listener: ln, ShutdownTimeout: 50 * time.Millisecond,
			Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { close(inFlight); <-release })})
	}()
	go func() {
		if res, err := http.Get("http://" + ln.Addr().String()); err == nil {
			res.Body.Close()
		}
	}()
	<-inFlight
	cancel()
	if err := <-served; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v, want the shutdown's deadline", err)
	}
}

func TestNewServerHasEveryTimeout(t *testing.T) {
	t.Parallel()
	s := lifecycle.NewServer(http.NotFoundHandler())
	if s.MaxHeaderBytes != lifecycle.MaxHeaderBytes {
		t.Fatalf("MaxHeaderBytes %d", s.MaxHeaderBytes)
	}
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Fatalf("timeouts %v %v %v %v", s.ReadHeaderTimeout, s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	}
}

func TestHTTPConfig(t *testing.T) {
	t.Parallel()
	good := lifecycle.HTTPConfig{Addr: ":8081", ShutdownTimeout: time.Second, MaxConns: 10, MaxInFlight: 10, QueueWait: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, change := range []func(*lifecycle.HTTPConfig){
		func(c *lifecycle.HTTPConfig) { c.Addr = "8081" },
		func(c *lifecycle.HTTPConfig) { c.ShutdownTimeout = 0 },
		func(c *lifecycle.HTTPConfig) { c.MaxConns = 0 },
		func(c *lifecycle.HTTPConfig) { c.MaxInFlight = 0 },
		func(c *lifecycle.HTTPConfig) { c.QueueWait = -time.Second },
	} {
		bad := good
		change(&bad)
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestEvery(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		calls int
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	w := lifecycle.Every("prune", time.Millisecond, quiet, func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return errors.New("fails, and is tried again")
	})
	go func() { done <- w.Run(ctx) }()
	testinfra.Eventually(t, 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return calls >= 3 },
		"a failing periodic job was not run again")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
