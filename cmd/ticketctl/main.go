// Command ticketctl is the operator's tool for the ticket system: it follows the event stream,
// reports the consumer's backlog, lists and replays dead letters, audits the cache against
// Postgres, and mints tokens for local use.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
