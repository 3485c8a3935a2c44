// Command query is the ticket read service: it answers reads from Redis,
// cache-aside, falling back to Postgres (a read replica in production) on a
// miss or when Redis is down.
package main

import (
	"context"
	"fmt"
	"io"

	"github.com/ticketsys/ticketsys/pkg/httpx"
	"github.com/ticketsys/ticketsys/pkg/svcmain"
	"github.com/ticketsys/ticketsys/services/query/internal/config"
	"github.com/ticketsys/ticketsys/services/query/internal/rediscache"
	"github.com/ticketsys/ticketsys/services/query/internal/service"
)

func main() { svcmain.Main("query", run) }

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
	proc, err := svcmain.Start(ctx, "query", cfg.LogLevel, cfg.LogFormat, stdout, getenv)
	if err != nil {
		return err
	}
	defer proc.Close(ctx)
	log := proc.Log
	rediscache.RouteLibraryLog(log)
	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer svc.Close()

	ln, err := proc.Listen(cfg.HTTPAddr, "query service", ready,
		"cache_ttl_seconds", cfg.CacheTTLSeconds, "redis_cluster", cfg.RedisCluster)
	if err != nil {
		return err
	}
	err = httpx.ServeListener(ctx, httpx.NewServer("", svc.Handler), ln, cfg.ShutdownTimeout)
	log.Info("query service stopped")
	return err
}
