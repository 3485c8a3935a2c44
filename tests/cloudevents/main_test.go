package cloudevents

import (
	"fmt"
	"os"
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// binaries holds the command service, built once per test process.
var binaries map[string]string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ticketsys-cloudevents-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudevents:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binaries, err = testinfra.BuildBinaries(dir, map[string]string{
		"command": "github.com/ticketsys/ticketsys/services/command",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cloudevents:", err)
		return 1
	}
	return m.Run()
}
