package service_test

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/services/query/internal/rediscache"
)

// TestMain keeps go-redis's per-dial messages out of the test output; the
// outage tests provoke plenty of them on purpose.
func TestMain(m *testing.M) {
	rediscache.RouteLibraryLog(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}
