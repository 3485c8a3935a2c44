package e2e

import (
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// binaries are the services under test, built once per test process.
var binaries = map[string]string{}

var packages = map[string]string{
	"command":           "github.com/ticketsys/ticketsys/services/command",
	"query":             "github.com/ticketsys/ticketsys/services/query",
	"cache-invalidator": "github.com/ticketsys/ticketsys/services/cache-invalidator",
	"ticketctl":         "github.com/ticketsys/ticketsys/cmd/ticketctl",
	"httpprobe":         "github.com/ticketsys/ticketsys/cmd/httpprobe",
}

func TestMain(m *testing.M) {
	os.Exit(testinfra.RunWithBinaries(m, "e2e", packages, &binaries))
}
