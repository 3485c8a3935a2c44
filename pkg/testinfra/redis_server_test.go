package testinfra

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisServerStopStartKeepsURLAndData(t *testing.T) {
	t.Parallel()
	s := StartRedisServer(t)
	url := s.URL()
	if !strings.HasPrefix(url, "redis://127.0.0.1:") || strings.Contains(url, ":0/") || !strings.HasSuffix(url, "/0") {
		t.Fatalf("URL %q, want redis://127.0.0.1:<port>/0", url)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rdb.Set(ctx, "survivor", "before the restart", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("port still open after Stop")
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Stop() // idempotent

	s.Start(t)
	if got := s.URL(); got != url {
		t.Fatalf("URL after Start = %s, want %s", got, url)
	}
	s.Start(t) // idempotent
	if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING after Start = %q, %v, want PONG", got, err)
	}
	if got, err := rdb.Get(ctx, "survivor").Result(); err != nil || got != "before the restart" {
		t.Errorf("GET survivor after the restart = %q, %v, want %q", got, err, "before the restart")
	}
}
