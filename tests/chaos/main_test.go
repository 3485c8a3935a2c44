package chaos

import (
	"fmt"
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// binaries are the services and ticketctl, built once per test process.
var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ticketsys-chaos-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binaries, err = testinfra.BuildBinaries(dir, map[string]string{
		"command":           "github.com/ticketsys/ticketsys/services/command",
		"query":             "github.com/ticketsys/ticketsys/services/query",
		"cache-invalidator": "github.com/ticketsys/ticketsys/services/cache-invalidator",
		"ticketctl":         "github.com/ticketsys/ticketsys/cmd/ticketctl",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 1
	}
	return m.Run()
}
