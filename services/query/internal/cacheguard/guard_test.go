package cacheguard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/services/query/internal/cacheguard"
)

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return strconv.Itoa(port)
}

// Against a Redis that is not there: three failures open the breaker, after
// which calls fail with ErrOpen without a connection attempt; after the
// pause it lets one probe through.
func TestGuardOpensAndProbes(t *testing.T) {
	t.Parallel()
	rdb, err := cacheguard.NewClient(redisconn.Config{URL: "redis://:secret-pw@127.0.0.1:" + closedPort(t) + "/0"}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	g := cacheguard.NewGuard(ticketcache.New(rdb, ticketcache.Keys{}, time.Minute), 200*time.Millisecond, log, nil)
	ctx := context.Background()
	for i := range 3 {
		if _, _, err := g.GetTicket(ctx, "x"); err == nil || errors.Is(err, cacheguard.ErrOpen) {
			t.Fatalf("call %d: %v, want a connection error", i, err)
		}
	}
	if g.State() != gobreaker.StateOpen {
		t.Fatalf("state %v after three failures", g.State())
	}
	if err := g.SetList(ctx, "k", []byte("v")); !errors.Is(err, cacheguard.ErrOpen) {
		t.Fatalf("while open: %v", err)
	}
	testinfra.Eventually(t, 5*time.Second, func() bool { return g.State() == gobreaker.StateHalfOpen },
		"the breaker never let a probe through")
	if _, err := g.Generation(ctx, ticketcache.ListQuery{}); err == nil || errors.Is(err, cacheguard.ErrOpen) {
		t.Fatalf("probe: %v, want a connection error", err)
	}
	if g.State() != gobreaker.StateOpen {
		t.Fatalf("state %v after a failed probe", g.State())
	}
}

// A caller that gives up is not held against Redis.
func TestGuardIgnoresCanceledCallers(t *testing.T) {
	t.Parallel()
	rdb, err := cacheguard.NewClient(redisconn.Config{URL: testinfra.RedisURL(t)}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	g := cacheguard.NewGuard(ticketcache.New(rdb, ticketcache.Keys{Prefix: testinfra.UniqueName(t, "g") + ":"}, time.Minute),
		time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		if _, _, err := g.GetTicket(ctx, "x"); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v", err)
		}
	}
	if g.State() != gobreaker.StateClosed {
		t.Fatalf("state %v", g.State())
	}
	if _, found, err := g.GetTicket(context.Background(), "x"); err != nil || found {
		t.Fatalf("%v %v", found, err)
	}
}

func TestPingReasonsHideTheAddress(t *testing.T) {
	t.Parallel()
	port := closedPort(t)
	rdb, err := cacheguard.NewClient(redisconn.Config{URL: "redis://:secret-pw@127.0.0.1:" + port + "/0"}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	_, err = cacheguard.Ping(context.Background(), rdb)
	// Exactly this text: neither the address nor the password in the URL.
	if err == nil || err.Error() != "redis is unreachable" {
		t.Fatalf("%v", err)
	}
	up, err := cacheguard.NewClient(redisconn.Config{URL: testinfra.RedisURL(t)}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if d, err := cacheguard.Ping(context.Background(), up); err != nil || d <= 0 {
		t.Fatalf("%v %v", d, err)
	}
	if _, err := cacheguard.NewClient(redisconn.Config{URL: "http://x"}, time.Second); err == nil {
		t.Fatal("bad URL accepted")
	}
	if _, err := cacheguard.NewClient(redisconn.Config{URL: "redis://127.0.0.1:6379?bogus=1", Cluster: true}, time.Second); err == nil {
		t.Fatal("bad cluster URL accepted")
	}
}
