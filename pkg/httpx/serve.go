package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// NewServer returns an http.Server with timeouts, which the zero value lacks: without
// ReadHeaderTimeout a client can hold a connection open forever by sending headers slowly.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

// Serve listens on srv.Addr and serves until ctx is done; see ServeListener. Listening first makes
// a port already in use an immediate error instead of a failure in a background goroutine.
func Serve(ctx context.Context, srv *http.Server, shutdownTimeout time.Duration) error {
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, srv, ln, shutdownTimeout)
}

// ServeListener serves on ln until ctx is done, then shuts down gracefully: no new connections,
// in-flight requests get up to shutdownTimeout to finish, after which the rest are closed. It
// returns nil after a clean shutdown, and the error if serving fails or the timeout runs out.
func ServeListener(ctx context.Context, srv *http.Server, ln net.Listener, shutdownTimeout time.Duration) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	// ctx is already done; the shutdown gets its own deadline but keeps ctx's values.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	// Serve returns ErrServerClosed as soon as Shutdown starts; anything
	// else is a real serving error worth reporting.
	if serr := <-serveErr; err == nil && serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = fmt.Errorf("serve: %w", serr)
	}
	return err
}
