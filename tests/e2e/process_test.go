package e2e

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// process is one service binary running for a test.
type process struct {
	name   string
	url    string
	cmd    *exec.Cmd
	out    *testinfra.SyncBuffer
	exited chan struct{}
}

// startProcess runs the named binary with env on a port of its choosing
// (port 0: a port picked here and handed over could be taken by a parallel
// test in between) and waits for the address it logs; it is stopped with
// SIGTERM at cleanup, and its log is shown if the test failed.
func startProcess(t testing.TB, name string, env map[string]string) *process {
	t.Helper()
	vars := os.Environ()
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	vars = append(vars, "HTTP_ADDR=127.0.0.1:0") // later entries win
	p := &process{name: name, out: &testinfra.SyncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binaries[name])
	p.cmd.Env = vars
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		_ = p.cmd.Wait() // the exit status shows in the log
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("---- %s log ----\n%s", name, p.out.Tail(16<<10))
		}
	})
	p.url = "http://" + p.listenAddr(t)
	return p
}

// listenAddr waits for the process to log the address it listens on.
func (p *process) listenAddr(t testing.TB) string {
	t.Helper()
	// The line each service logs once its port is open, as text or JSON.
	listening := regexp.MustCompile(regexp.QuoteMeta(p.name+` listening"`) + `\s*(?:addr=|,"addr":")([0-9.]+:[0-9]+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(p.out.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it listened:\n%s", p.name, p.out.Tail(8<<10))
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	t.Fatalf("%s never logged its address:\n%s", p.name, p.out.Tail(8<<10))
	return ""
}

func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitReady polls /readyz until it answers 200.
func (p *process) waitReady(t testing.TB) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("%s exited before it was ready:\n%s", p.name, p.out.Tail(8<<10))
		default:
		}
		res, err := client.Get(p.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			last = res.Status + " " + string(body)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not a wait for an effect
	}
	t.Fatalf("%s never became ready (last: %s):\n%s", p.name, last, p.out.Tail(8<<10))
}
