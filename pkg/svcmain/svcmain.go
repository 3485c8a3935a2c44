// Package svcmain is the part of main that every service shares: signals
// and the exit code, the process-wide logger and tracing, and the HTTP
// listener whose address tests learn through a ready callback.
package svcmain

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/ticketsys/ticketsys/pkg/logging"
	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// RunFunc is a service's main without the process, so tests can call it
// with their own arguments, environment and output.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, ready func(addr string)) error

// Main runs run until SIGINT or SIGTERM; an error is printed as
// "name: error" and exits 1.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Process is what Start set up for one run.
type Process struct {
	Log         *slog.Logger
	stopTracing func(context.Context) error
}

// Start makes the logger, which also becomes slog's default so libraries
// that log through it (readiness checks) write structured lines to the same
// stream, and starts tracing when the environment asks for it.
func Start(ctx context.Context, service, level, format string, stdout io.Writer, getenv func(string) string) (*Process, error) {
	log, err := logging.New(level, format, stdout)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(log)
	stop, err := tracing.Setup(ctx, service, getenv)
	if err != nil {
		return nil, err
	}
	return &Process{Log: log, stopTracing: stop}, nil
}

// Close flushes and stops tracing.
func (p *Process) Close(ctx context.Context) {
	_ = p.stopTracing(context.WithoutCancel(ctx))
}

// Listen opens addr (the service's HTTP_ADDR), logs it with attrs and
// tells ready the address it got (tests listen on 127.0.0.1:0).
func (p *Process) Listen(addr, what string, ready func(string), attrs ...any) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on HTTP_ADDR: %w", err)
	}
	p.Log.Info(what+" listening", append([]any{"addr", ln.Addr().String()}, attrs...)...)
	if ready != nil {
		ready(ln.Addr().String())
	}
	return ln, nil
}
