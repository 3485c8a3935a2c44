// Package lifecycle runs one process's HTTP server and background workers
// and stops them in the one right order: stop taking requests, drain the ones
// in flight, stop the workers, close the pools. Every service and
// `ticketctl ui` run through it, so none of them builds its own server.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// Server timeouts. Without ReadHeaderTimeout a client holds a connection
// with headers sent slowly; without IdleTimeout idle keep-alive connections
// are never closed. A handler that streams on purpose (server-sent events)
// lifts its own write deadline with http.ResponseController.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
	// MaxHeaderBytes is far above any real request (a token is a few KiB)
	// and far below net/http's 1 MiB default, which a client could make
	// every connection hold.
	MaxHeaderBytes = 64 << 10
)

// NewServer returns an http.Server for h with the timeouts above.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Worker is a background loop that runs while the server serves. Run must
// return once its context is done; an earlier return (with or without an
// error) stops the whole process, since a process that has lost its relay
// or its consumer should not look healthy.
type Worker struct {
	Name string
	Run  func(ctx context.Context) error
}

// Spec is what Run runs.
type Spec struct {
	Log      *slog.Logger
	Listener net.Listener // the server's, already open (tests listen on :0)
	Handler  http.Handler
	Workers  []Worker
	// ShutdownTimeout bounds the drain of in-flight requests, and then
	// again the wait for the workers.
	ShutdownTimeout time.Duration
	// OnShutdown runs when the drain begins: a handler that streams (server-
	// sent events) ends its streams there, or the drain would wait for them.
	OnShutdown []func()
	// Closers run last, in reverse order, once nothing uses what they close.
	Closers []func()
	// MaxConns caps the connections open at once (0: no cap); those beyond
	// wait in the kernel's accept queue, so a flood costs the process no
	// memory for them.
	MaxConns int
}

// Run serves until ctx is done or a worker or the server stops by itself,
// then shuts down in order and returns the first error.
func Run(ctx context.Context, s Spec) error {
	srv := NewServer(s.Handler)
	for _, f := range s.OnShutdown {
		srv.RegisterOnShutdown(f)
	}
	defer func() {
		for i := len(s.Closers) - 1; i >= 0; i-- {
			s.Closers[i]()
		}
	}()

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	stopped := make(chan error, len(s.Workers)+1)
	var wg sync.WaitGroup
	for _, w := range s.Workers {
		wg.Go(func() {
			err := w.Run(workCtx)
			if workCtx.Err() == nil {
				// Stopped on its own: the process goes down with it.
				if err == nil {
					err = fmt.Errorf("%s stopped", w.Name)
				}
				stopped <- fmt.Errorf("%s: %w", w.Name, err)
			}
		})
	}
	ln := s.Listener
	if s.MaxConns > 0 {
		ln = netutil.LimitListener(ln, s.MaxConns)
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			stopped <- fmt.Errorf("serve: %w", err)
		}
	}()

	var first error
	select {
	case <-ctx.Done():
	case first = <-stopped:
		s.Log.Error("stopping", "error", first)
	}

	// 1. No new requests; those in flight get ShutdownTimeout to finish.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.ShutdownTimeout)
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		first = errors.Join(first, fmt.Errorf("shutdown: %w", err))
	}
	cancel()
	// 2. Workers stop: their loops see workCtx end and settle what they hold.
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.ShutdownTimeout):
		first = errors.Join(first, errors.New("workers did not stop within the shutdown timeout"))
	}
	// 3. The closers (pools, connections) run in the deferred function.
	return first
}

// Sleep waits d or until ctx is done; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Every returns a Worker that calls fn every interval until its context
// ends. A failing fn is logged and tried again at the next tick: periodic
// housekeeping must not take the process down.
func Every(name string, interval time.Duration, log *slog.Logger, fn func(ctx context.Context) error) Worker {
	return Worker{Name: name, Run: func(ctx context.Context) error {
		for Sleep(ctx, interval) {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				log.Warn(name+" failed", "error", err)
			}
		}
		return nil
	}}
}

// HTTPConfig is the block of every process that serves HTTP. Addr has no
// envDefault: each service sets its own default (:8081, :8082, :8083) in the
// base configuration it loads the environment over.
type HTTPConfig struct {
	Addr            string        `env:"HTTP_ADDR"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"20s"`
	// MaxConns caps open connections; MaxInFlight the requests being
	// served at once, beyond which a request waits up to QueueWait for a
	// turn and is then answered 503 with Retry-After instead of piling up.
	MaxConns    int           `env:"HTTP_MAX_CONNS" envDefault:"1024"`
	MaxInFlight int           `env:"HTTP_MAX_IN_FLIGHT" envDefault:"256"`
	QueueWait   time.Duration `env:"HTTP_QUEUE_WAIT" envDefault:"1s"`
}

// Validate checks both values; the error names the variable.
func (c HTTPConfig) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return errors.New("HTTP_ADDR: want host:port or :port")
	}
	switch {
	case c.ShutdownTimeout <= 0:
		return errors.New("SHUTDOWN_TIMEOUT: must be positive")
	case c.MaxConns < 1:
		return errors.New("HTTP_MAX_CONNS: must be at least 1")
	case c.MaxInFlight < 1:
		return errors.New("HTTP_MAX_IN_FLIGHT: must be at least 1")
	case c.QueueWait < 0:
		return errors.New("HTTP_QUEUE_WAIT: must not be negative")
	}
	return nil
}
