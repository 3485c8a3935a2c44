// Command cache-invalidator keeps the Redis cache in step with the ticket
// events: it consumes stream TICKETS with the durable consumer
// "cache-invalidator", refreshes ticket:{id} and invalidates the list pages a
// change affects. Its HTTP address serves only /healthz, /readyz and /metrics.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/config"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/service"
)

func main() { svcmain.Main("cache-invalidator", run) }

// run is main without the process: tests call it with their own environment
// and, through ready, learn the address it listens on.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, ready func(addr string)) error {
	if len(args) > 0 && args[0] != "serve" {
		return fmt.Errorf("unknown subcommand %q (want serve)", args[0])
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	proc, err := svcmain.Start(ctx, "cache-invalidator", cfg.LogLevel, cfg.LogFormat, stdout, getenv)
	if err != nil {
		return err
	}
	defer proc.Close(ctx)
	log := proc.Log
	// go-redis logs through a package-wide logger; only the process sets it.
	redis.SetLogger(service.RedisLogger{Log: log})
	svc, err := service.New(cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()

	ln, err := proc.Listen(cfg.HTTPAddr, "cache-invalidator", ready)
	if err != nil {
		return err
	}

	// The consumer stops first: on shutdown it stops pulling, hands buffered
	// messages back and lets in-flight ones finish, while /healthz and
	// /metrics still answer. The HTTP server goes last.
	workerCtx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	httpCtx, stopHTTP := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHTTP()
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- svc.Worker.Run(workerCtx)
		stopHTTP()
	}()
	srv := &http.Server{Handler: svc.Handler, ReadHeaderTimeout: 10 * time.Second}
	err = httpx.ServeListener(httpCtx, srv, ln, cfg.ShutdownTimeout)
	stopWorker() // the server failed, or the worker already stopped
	if werr := <-workerDone; err == nil {
		err = werr
	}
	log.Info("cache-invalidator stopped")
	return err
}
