package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes: scripts tell "you called it wrong" from "it failed" by these.
const (
	exitOK      = 0
	exitRuntime = 1
	exitUsage   = 2
)

// app carries what every command needs, so commands never touch os.* and tests can drive run.
type app struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	// entered is set once a command's own code runs. An error before that came from cobra
	// itself (unknown command or flag, bad flag value, wrong arguments): a usage error.
	entered bool
}

// usageError marks an error found by a command itself that is the caller's fault (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{getenv: getenv, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "ticketctl: %v\n", err)
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
		// Errors and usage are printed once, by run, with the right exit code.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.AddCommand(a.tokenCmd())
	return root
}

// action wraps a command body so run can tell its errors from cobra's parsing errors.
func (a *app) action(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.entered = true
		return fn(cmd, args)
	}
}
