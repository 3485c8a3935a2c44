package service_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/redisconn"
)

// TestMain keeps go-redis's per-dial messages out of the test output; the
// outage tests provoke plenty of them on purpose.
func TestMain(m *testing.M) {
	redisconn.SetLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
