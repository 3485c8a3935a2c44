// Command query is the ticket read service: it answers reads from Redis,
// cache-aside, falling back to Postgres (a read replica in production) on a
// miss or when Redis is down.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/logging"
	"github.com/ticketsys/ticketsys/pkg/tracing"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
	"github.com/ticketsys/ticketsys/services/query/internal/rediscache"
	"github.com/ticketsys/ticketsys/services/query/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "query:", err)
		os.Exit(1)
	}
}

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
	log, err := logging.New(cfg.LogLevel, cfg.LogFormat, stdout)
	if err != nil {
		return err
	}
	// Libraries that log through slog's default (readiness checks) write
	// structured lines to the same stream.
	slog.SetDefault(log)
	stopTracing, err := tracing.Setup(ctx, "query", getenv)
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
	rediscache.RouteLibraryLog(log)
	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR: %w", err)
	}
	log.Info("query service listening", "addr", ln.Addr().String(),
		"cache_ttl_seconds", cfg.CacheTTLSeconds, "redis_cluster", cfg.RedisCluster)
	if ready != nil {
		ready(ln.Addr().String())
	}
	err = httpx.ServeListener(ctx, httpx.NewServer("", svc.Handler), ln, cfg.ShutdownTimeout)
	log.Info("query service stopped")
	return err
}
