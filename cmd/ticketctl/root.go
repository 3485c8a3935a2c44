package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/buildinfo"
	"github.com/ticketsys/ticketsys/pkg/envconfig"
	"github.com/ticketsys/ticketsys/pkg/lifecycle"
)

// Exit codes: scripts tell "you called it wrong" from "it failed" from "it found a problem" by these.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
	exitStale   = 3 // cache check: the audit ran and found stale entries
)

// app carries what every command needs, so commands never touch os.* and tests can drive run.
type app struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// pause waits between the two passes of cache check; tests replace it to act in between.
	pause func(ctx context.Context, d time.Duration) error
	// isTerminal reports whether w (stdout or stderr) is a terminal: it decides the progress
	// line of cache check and the colour of events tail. Tests replace it to force either.
	isTerminal func(w io.Writer) bool
	// entered is set once a command's own code runs. An error before that came from cobra
	// itself (unknown command or flag, bad flag value, wrong arguments): a usage error.
	entered bool
}

func newApp(getenv func(string) string, stdout, stderr io.Writer) *app {
	return &app{getenv: getenv, stdout: stdout, stderr: stderr, pause: sleep, isTerminal: isTerminal}
}

// sleep waits for d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if !lifecycle.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// envHelp lists every variable ticketctl reads, with its default.
func envHelp() string {
	var b strings.Builder
	for _, v := range envconfig.Describe(envConfig{}) {
		def := v.Default
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(&b, "  %-16s [%s]\n", v.Name, def)
	}
	return b.String()
}

// usageError marks an error found by a command itself that is the caller's fault (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// codeError ends a command that did its job but must report a finding through its exit code
// (cache check with stale entries); the command has already printed its report.
type codeError struct {
	code int
	msg  string
}

func (e codeError) Error() string { return e.msg }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return newApp(getenv, stdout, stderr).execute(ctx, args)
}

// execute runs one command line and maps its outcome to an exit code.
func (a *app) execute(ctx context.Context, args []string) int {
	stderr := a.stderr
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(stderr)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "ticketctl: %v\n", err)
	var ce codeError
	if errors.As(err, &ce) {
		return ce.code
	}
	var ue usageError
	if !a.entered || errors.As(err, &ue) {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return exitUsage
	}
	return exitRuntime
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ticketctl",
		Short: "Operate the ticket system from the command line",
		Long: `Operate the ticket system from the command line: follow the event stream, look at the
consumer and the dead-letter queue, replay dead letters, audit the Redis cache against Postgres,
watch it all live in a browser (ticketctl ui), and mint development tokens.

Connections come from the environment, as for the services (default in brackets):
` + envHelp() + `
Exit codes:
  0  success (also: tail ended with Ctrl-C)
  1  runtime error (a server unreachable, a stream missing, a failed request)
  2  usage error (unknown command or flag, bad flag value, bad environment variable)
  3  cache check found stale entries`,
		Version: buildinfo.Read().String(),
		// Errors and usage are printed once, by run, with the right exit code.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("ticketctl {{.Version}}\n")
	root.AddCommand(a.eventsCmd(), a.dlqCmd(), a.cacheCmd(), a.tokenCmd(), a.keysCmd(), a.uiCmd(), a.ticketsCmd())
	return root
}

// action wraps a command body so run can tell its errors from cobra's parsing errors.
func (a *app) action(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.entered = true
		return fn(cmd, args)
	}
}

// groupCmd is a command that only holds subcommands. Cobra would print help for any stray
// argument (exit 0); a typo in a script must fail instead.
func groupCmd(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}
