package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ticketsys-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	for name, pkg := range packages {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n%s", pkg, err, out)
			return 1
		}
		binaries[name] = bin
	}
	return m.Run()
}
