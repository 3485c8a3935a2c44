package natsconn_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/natsconn"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

func TestConnectSurvivesAnOutage(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	log := slog.New(slog.DiscardHandler)
	nc, err := natsconn.Connect(srv.URL(), "", "natsconn-test", log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if !nc.IsConnected() || nc.Opts.Name != "natsconn-test" {
		t.Fatalf("connected=%v name=%q", nc.IsConnected(), nc.Opts.Name)
	}
	srv.Stop()
	testinfra.Eventually(t, 5*time.Second, func() bool { return !nc.IsConnected() }, "never noticed the outage")
	srv.Start(t)
	testinfra.Eventually(t, 10*time.Second, nc.IsConnected, "never reconnected")
}

// With NATS down at start the connection is still made, and connects later.
func TestConnectWhileDownAndBadCreds(t *testing.T) {
	t.Parallel()
	srv := testinfra.StartNATSServer(t)
	url := srv.URL()
	srv.Stop()
	nc, err := natsconn.Connect(url, "", "late", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect while down: %v", err)
	}
	defer nc.Close()
	srv.Start(t)
	testinfra.Eventually(t, 10*time.Second, nc.IsConnected, "never connected once NATS was up")

	missing := filepath.Join(t.TempDir(), "nope.creds")
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("test setup")
	}
	if _, err := natsconn.Connect(url, missing, "creds", slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing credentials file was accepted")
	}
}
