package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
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

// startProcess runs the named binary with env on a free port; it is
// stopped with SIGTERM at cleanup, and its log is shown if the test failed.
func startProcess(t testing.TB, name string, env map[string]string) *process {
	t.Helper()
	addr := freeAddr(t)
	vars := os.Environ()
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	vars = append(vars, "HTTP_ADDR="+addr) // later entries win
	p := &process{name: name, url: "http://" + addr, out: &testinfra.SyncBuffer{}, exited: make(chan struct{})}
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
	return p
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

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
