// Package svcmain is the main every service shares: its command line
// (subcommands, --help, --version), its configuration from the environment,
// the process-wide logger and tracing, the Prometheus registry with the
// build info, and the HTTP listener whose address tests learn through a
// ready callback. Serving and stopping are pkg/lifecycle's.
package svcmain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ticketsys/ticketsys/pkg/buildinfo"
	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/logging"
	"github.com/ticketsys/ticketsys/pkg/tracing"
)

// App is one service binary: its name, what it is, and its subcommands, the
// first of which runs when none is named.
type App struct {
	Name     string
	Summary  string // a sentence or two for --help
	Commands []Command
}

// Env is what a run gets from its process; tests fill it themselves.
type Env struct {
	Args   []string
	Getenv func(string) string
	Stdout io.Writer
	// Ready, if set, is told the address the HTTP server listens on (tests
	// listen on 127.0.0.1:0).
	Ready func(addr string)
}

// UsageError is a command line the binary does not accept (exit 2).
type UsageError struct{ msg string }

func (e UsageError) Error() string { return e.msg }

// Main runs the app with the process's arguments and environment until
// SIGINT or SIGTERM. An error is printed as "name: error" and exits 1, or 2
// for a usage error.
func (a App) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The log goes out in batches (warnings and errors at once): a line per
	// request written on its own is a system call per request.
	out := logging.NewBuffered(os.Stdout, 100*time.Millisecond)
	err := a.Run(ctx, Env{Args: os.Args[1:], Getenv: os.Getenv, Stdout: out})
	_ = out.Close()
	stop()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, a.Name+":", err)
	var ue UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "Run '%s --help' for usage.\n", a.Name)
		os.Exit(2)
	}
	os.Exit(1)
}

// Run parses the command line and runs the command it names.
func (a App) Run(ctx context.Context, env Env) error {
	var name string
	for _, arg := range env.Args {
		switch {
		case arg == "-h" || arg == "--help" || arg == "-help" || arg == "help":
			return a.help(env.Stdout)
		case arg == "--version" || arg == "-version" || arg == "version":
			_, err := fmt.Fprintf(env.Stdout, "%s %s\n", a.Name, buildinfo.Read())
			return err
		case strings.HasPrefix(arg, "-"):
			return UsageError{fmt.Sprintf("unknown flag %q", arg)}
		case name != "":
			return UsageError{fmt.Sprintf("unexpected argument %q", arg)}
		}
		name = arg
	}
	cmd := a.Commands[0]
	if name != "" {
		found := false
		for _, c := range a.Commands {
			if c.Name == name {
				cmd, found = c, true
			}
		}
		if !found {
			return UsageError{fmt.Sprintf("unknown subcommand %q (want %s)", name, a.commandNames())}
		}
	}
	return cmd.run(ctx, a.Name, env)
}

func (a App) commandNames() string {
	names := make([]string, len(a.Commands))
	for i, c := range a.Commands {
		names[i] = c.Name
	}
	return strings.Join(names, " or ")
}

// help prints what the binary is, its subcommands and every environment
// variable any of them reads, with its default.
func (a App) help(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s\n\nUsage:\n", a.Name, a.Summary)
	for i, c := range a.Commands {
		use := a.Name + " " + c.Name
		if i == 0 {
			use = a.Name + " [" + c.Name + "]"
		}
		fmt.Fprintf(&b, "  %-28s %s\n", use, c.Summary)
	}
	fmt.Fprintf(&b, "  %-28s %s\n  %-28s %s\n", a.Name+" --help", "this text",
		a.Name+" --version", "the version, commit and Go version of this build")
	b.WriteString("\nEnvironment (a missing or malformed value stops the process with one line naming it):\n")
	seen := map[string]bool{}
	for _, c := range a.Commands {
		for _, v := range c.vars() {
			if seen[v.Name] {
				continue
			}
			seen[v.Name] = true
			def := v.Default
			if def == "" {
				def = "(unset)"
			}
			fmt.Fprintf(&b, "  %-28s %s\n", v.Name, def)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Config is a command's configuration: any struct that embeds Base, plus
// the blocks it needs.
type Config interface {
	base() Base
}

// Base is the block every command's configuration embeds: which kind of
// environment it runs in, how it logs, and where it serves its profiles.
type Base struct {
	// Env is "production" unless said otherwise: what is only safe on a
	// developer's machine (known keys, auth off, a random cursor key) must be
	// asked for by name.
	Env string `env:"ENV" envDefault:"production"`
	Log logging.Config
	// PprofAddr, when set, serves net/http/pprof there, beside the service;
	// a loopback address only, since profiles show what the process holds.
	PprofAddr string `env:"PPROF_ADDR"`
}

func (b Base) base() Base { return b }

// Development reports ENV=development.
func (b Base) Development() bool { return b.Env == "development" }

// Validate insists on a known ENV and a loopback PPROF_ADDR.
func (b Base) Validate() error {
	if b.Env != "production" && b.Env != "development" {
		return errors.New("ENV: want production or development")
	}
	if b.PprofAddr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(b.PprofAddr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return errors.New("PPROF_ADDR: want a loopback host:port, such as 127.0.0.1:6060")
	}
	return nil
}

// Command is one subcommand; make it with NewCommand.
type Command struct {
	Name    string
	Summary string
	vars    func() []envconfig.Var
	run     func(ctx context.Context, app string, env Env) error
}

// NewCommand makes a subcommand whose configuration C is loaded from the
// environment over defaults (each variable validated once, by the block that
// declares it) before fn runs with the process set up.
func NewCommand[C Config](name, summary string, defaults C, fn func(context.Context, *Process, C) error) Command {
	return Command{
		Name:    name,
		Summary: summary,
		vars:    func() []envconfig.Var { return envconfig.Describe(defaults) },
		run: func(ctx context.Context, app string, env Env) error {
			cfg, err := envconfig.Load(env.Getenv, defaults)
			if err != nil {
				return err
			}
			p, err := start(ctx, app, cfg.base(), env)
			if err != nil {
				return err
			}
			defer p.close(ctx)
			return fn(ctx, p, cfg)
		},
	}
}

// Process is what a command runs with.
type Process struct {
	Name string
	Log  *slog.Logger
	// Registry holds the Go runtime, process and build-info collectors; it
	// is what the service serves at /metrics.
	Registry *prometheus.Registry
	// Metrics is where the service registers its own metrics: a registerer
	// on Registry that begins each name with httpx.MetricPrefix (ticketsys_).
	Metrics     prometheus.Registerer
	ready       func(string)
	stopTracing func(context.Context) error
	pprofAddr   string
}

// start makes the logger, which also becomes slog's default so libraries
// that log through it write structured lines to the same stream, and starts
// tracing when the environment asks for it.
func start(ctx context.Context, name string, base Base, env Env) (*Process, error) {
	log, err := base.Log.Logger(env.Stdout)
	if err != nil {
		return nil, err
	}
	slog.SetDefault(log)
	stop, err := tracing.Setup(ctx, name, buildinfo.Read().Version, env.Getenv)
	if err != nil {
		return nil, err
	}
	reg, app := httpx.NewRegistry()
	reg.MustRegister(buildinfo.Collector(name))
	return &Process{Name: name, Log: log, Registry: reg, Metrics: app, ready: env.Ready, stopTracing: stop, pprofAddr: base.PprofAddr}, nil
}

func (p *Process) close(ctx context.Context) {
	_ = p.stopTracing(context.WithoutCancel(ctx))
}

// Serve listens on cfg.Addr, tells the ready callback, and runs spec's
// handler and workers until ctx is done (see lifecycle.Run).
func (p *Process) Serve(ctx context.Context, cfg lifecycle.HTTPConfig, spec lifecycle.Spec, attrs ...any) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		for i := len(spec.Closers) - 1; i >= 0; i-- {
			spec.Closers[i]()
		}
		return fmt.Errorf("listen on HTTP_ADDR: %w", err)
	}
	// pprof listens before ready is told, so "ready" means every port answers.
	if p.pprofAddr != "" {
		w, err := pprofWorker(p.pprofAddr, p.Log)
		if err != nil {
			_ = ln.Close()
			for i := len(spec.Closers) - 1; i >= 0; i-- {
				spec.Closers[i]()
			}
			return err
		}
		spec.Workers = append(spec.Workers, w)
	}
	p.Log.Info(p.Name+" listening", append([]any{"addr", ln.Addr().String(), "version", buildinfo.Read().Version}, attrs...)...)
	if p.ready != nil {
		p.ready(ln.Addr().String())
	}
	spec.Log, spec.Listener, spec.ShutdownTimeout, spec.MaxConns = p.Log, ln, cfg.ShutdownTimeout, cfg.MaxConns
	err = lifecycle.Run(ctx, spec)
	p.Log.Info(p.Name + " stopped")
	return err
}

// pprofWorker serves net/http/pprof on addr until the process stops.
func pprofWorker(addr string, log *slog.Logger) (lifecycle.Worker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return lifecycle.Worker{}, fmt.Errorf("listen on PPROF_ADDR: %w", err)
	}
	log.Info("pprof listening", "addr", ln.Addr().String())
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: lifecycle.ReadHeaderTimeout}
	return lifecycle.Worker{Name: "pprof", Run: func(ctx context.Context) error {
		stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
		defer stop()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}}, nil
}
