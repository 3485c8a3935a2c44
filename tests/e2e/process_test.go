package e2e

import (
	"testing"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// process is one service binary running for a test; e2e tests never
// restart one, so its URL is read once.
type process struct {
	*testinfra.ServiceProcess
	url string
}

// startProcess runs the named binary with env (see testinfra.StartServiceProcess).
func startProcess(t testing.TB, name string, env map[string]string) *process {
	t.Helper()
	p := testinfra.StartServiceProcess(t, name, binaries[name], env)
	return &process{ServiceProcess: p, url: p.URL()}
}

func (p *process) waitReady(t testing.TB) { p.WaitReady(t) }
