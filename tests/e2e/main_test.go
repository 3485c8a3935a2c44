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
	work, err := findWorkspace()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	for name, pkg := range packages {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		// The services are other modules of the workspace: build through
		// go.work even when the caller set GOWORK=off for this module.
		cmd.Env = append(os.Environ(), "GOWORK="+work)
		cmd.Dir = filepath.Dir(work)
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building %s: %v\n%s", pkg, err, out)
			return 1
		}
		binaries[name] = bin
	}
	return m.Run()
}

// findWorkspace walks up from the test's directory to the go.work file.
func findWorkspace() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "go.work")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work above the test directory: the e2e tests build the services from the workspace")
		}
		dir = parent
	}
}
