package cloudevents

import (
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// binaries holds the command service, built once per test process.
var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(testinfra.RunWithBinaries(m, "cloudevents", map[string]string{
		"command": "github.com/ticketsys/ticketsys/services/command",
	}, &binaries))
}
