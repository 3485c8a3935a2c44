// Command command is the ticket write service: it validates writes, stores
// them in Postgres with their events in the outbox, and relays the outbox to
// NATS JetStream.
//
//	command [serve]   run the HTTP service and the outbox relay (default)
//	command migrate   apply the database migrations and exit
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/pkg/ticketdb"
	"github.com/ticketsys/ticketsys/services/command/internal/config"
	"github.com/ticketsys/ticketsys/services/command/internal/service"
)

func main() { svcmain.Main("command", run) }

// run is main without the process: tests call it with their own environment
// and, through ready, learn the address it listens on.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, ready func(addr string)) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd = args[0]
	}
	if cmd != "serve" && cmd != "migrate" {
		return fmt.Errorf("unknown subcommand %q (want serve or migrate)", cmd)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cmd == "serve" {
		if err := cfg.Auth.Validate(); err != nil {
			return err
		}
	}
	proc, err := svcmain.Start(ctx, "command", cfg.LogLevel, cfg.LogFormat, stdout, getenv)
	if err != nil {
		return err
	}
	defer proc.Close(ctx)
	log := proc.Log
	if cmd == "migrate" || cfg.MigrateOnStart {
		if err := ticketdb.Migrate(ctx, cfg.DatabaseURL, log); err != nil {
			return err
		}
		if cmd == "migrate" {
			return nil
		}
	}

	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()

	ln, err := proc.Listen(cfg.HTTPAddr, "command service", ready)
	if err != nil {
		return err
	}

	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if cfg.RelayEnabled {
		wg.Go(func() { _ = svc.Relay.Run(relayCtx) })
	}
	srv := &http.Server{Handler: svc.Handler, ReadHeaderTimeout: 10 * time.Second}
	err = httpx.ServeListener(ctx, srv, ln, cfg.ShutdownTimeout)
	// In-flight requests are done. Rows they wrote that the relay has not
	// sent yet stay in the outbox for whichever relay runs next.
	stopRelay()
	wg.Wait()
	log.Info("command service stopped")
	return err
}
