package chaos

import (
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// binaries are the services and ticketctl, built once per test process.
var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(testinfra.RunWithBinaries(m, "chaos", map[string]string{
		"command":           "github.com/ticketsys/ticketsys/services/command",
		"query":             "github.com/ticketsys/ticketsys/services/query",
		"cache-invalidator": "github.com/ticketsys/ticketsys/services/cache-invalidator",
		"ticketctl":         "github.com/ticketsys/ticketsys/cmd/ticketctl",
	}, &binaries))
}
