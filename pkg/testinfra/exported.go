package testinfra

import "context"

// The functions below give programs that are not tests (cmd/devstack, which `make dev` runs) the same
// lookups the tests use, without a testing.TB: each returns its error instead of failing a test.

// NATSServerPath is NATSServerBinary for programs: the path of a nats-server executable of the version
// go.mod pins, found in .cache/bin (or the user's cache directory) or built there once with the go command.
func NATSServerPath() (string, error) {
	natsBinary.once.Do(func() { natsBinary.path, natsBinary.err = buildNATSServer() })
	return natsBinary.path, natsBinary.err
}

// NATSServerVersion returns the version of a nats-server executable as its --version says it ("v2.15.2"),
// or "" if it does not run.
func NATSServerVersion(bin string) string { return natsBinaryVersion(bin) }

// ModuleRoot returns the directory of the repository's root go.mod, looked for from the working directory
// upwards.
func ModuleRoot() (string, error) { return moduleRoot() }

// ProbePostgres connects to rawURL and pings the server; pgx reads PGPASSWORD and ~/.pgpass when the URL
// has no password.
func ProbePostgres(ctx context.Context, rawURL string) error { return probePostgres(ctx, rawURL) }

// ProbeRedis sends PING (after AUTH when the URL has a password) and wants PONG.
func ProbeRedis(ctx context.Context, rawURL string) error { return probeRedis(ctx, rawURL) }

// ProbeNATS reads the INFO line a NATS server sends first; a comma-separated list answers if any does.
func ProbeNATS(ctx context.Context, rawURLs string) error { return probeNATS(ctx, rawURLs) }
