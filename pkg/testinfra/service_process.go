package testinfra

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RunWithBinaries is a TestMain body for tests that run the system's
// binaries: it builds packages (name → import path) into a temporary
// directory, stores name → binary path in *binaries, runs the tests and
// removes the directory; it returns the exit code. name prefixes errors.
//
//	func TestMain(m *testing.M) { os.Exit(testinfra.RunWithBinaries(m, "e2e", packages, &binaries)) }
func RunWithBinaries(m *testing.M, name string, packages map[string]string, binaries *map[string]string) int {
	dir, err := os.MkdirTemp("", "ticketsys-"+name+"-")
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *binaries, err = BuildBinaries(dir, packages); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return m.Run()
}

// BuildBinaries builds each package (name → import path) into dir with the go command on PATH, as
// users build them, and returns name → binary path. Tests that run the services as processes call it
// once from TestMain.
func BuildBinaries(dir string, packages map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(packages))
	for name, pkg := range packages {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s: %w\n%s", pkg, err, b)
		}
		out[name] = bin
	}
	return out, nil
}

// ServiceProcess is one of the project's services running as a process for a test: it can be stopped,
// killed with SIGKILL and started again on the same address, as an orchestrator restarts a pod.
type ServiceProcess struct {
	Name string
	t    testing.TB
	bin  string
	env  []string
	Out  *SyncBuffer // every run's output, for failure messages

	mu     sync.Mutex
	url    string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartServiceProcess runs bin as name with env added to the test's environment, on a port of its own
// choosing (HTTP_ADDR=127.0.0.1:0: a port picked here and handed over could be taken by a parallel test
// in between), and waits for the "<name> listening" line it logs at LOG_LEVEL=info. Restarts reuse that
// address. It is stopped with SIGTERM at cleanup, and its log is shown if the test failed.
func StartServiceProcess(t testing.TB, name, bin string, env map[string]string) *ServiceProcess {
	t.Helper()
	vars := os.Environ()
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	p := &ServiceProcess{Name: name, t: t, bin: bin, env: vars, Out: &SyncBuffer{}, addr: "127.0.0.1:0"}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("---- %s log ----\n%s", name, p.Out.Tail(16<<10))
			// The whole log, for a failure the tail does not explain.
			if dir := os.Getenv("TESTINFRA_LOG_DIR"); dir != "" {
				f := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+"-"+strconv.Itoa(os.Getpid())+".log")
				if err := os.WriteFile(f, p.Out.Bytes(), 0o644); err == nil {
					t.Logf("%s's whole log: %s", name, f)
				}
			}
		}
	})
	p.start(t)
	return p
}

// URL is http://<the address the process listens on>; it stays the same across restarts.
func (p *ServiceProcess) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url
}

// Exited is closed once the current run of the process has exited.
func (p *ServiceProcess) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

func (p *ServiceProcess) start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	from := len(p.Out.Bytes())
	cmd := exec.Command(p.bin)
	cmd.Env = append(slices.Clone(p.env), "HTTP_ADDR="+p.addr) // later entries win
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		t.Fatalf("start %s: %v", p.Name, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	go func() {
		_ = cmd.Wait() // the exit status shows in the log
		close(exited)
	}()
	addr := p.listenAddr(t, from, exited)
	p.mu.Lock()
	p.addr, p.url = addr, "http://"+addr
	p.mu.Unlock()
}

// listenAddr waits for the run that began at byte from of the output to log its address.
func (p *ServiceProcess) listenAddr(t testing.TB, from int, exited <-chan struct{}) string {
	t.Helper()
	// The line each service logs once its port is open, as text or JSON.
	listening := regexp.MustCompile(regexp.QuoteMeta(p.Name+` listening"`) + `\s*(?:addr=|,"addr":")([0-9.]+:[0-9]+)`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindSubmatch(p.Out.Bytes()[from:]); m != nil {
			return string(m[1])
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before it listened:\n%s", p.Name, p.Out.Tail(8<<10))
		case <-time.After(10 * time.Millisecond): // polling interval
		}
	}
	t.Fatalf("%s never logged its address:\n%s", p.Name, p.Out.Tail(8<<10))
	return ""
}

// Stop sends SIGTERM and waits for the exit (SIGKILL after 15 s). Stopping a stopped process does nothing.
func (p *ServiceProcess) Stop() { p.signal(syscall.SIGTERM, 15*time.Second) }

// Kill sends SIGKILL and waits for the exit: no shutdown hook runs, as when a node dies.
func (p *ServiceProcess) Kill() { p.signal(syscall.SIGKILL, 15*time.Second) }

func (p *ServiceProcess) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts the stopped or killed process again on its address and waits until it is ready.
func (p *ServiceProcess) Restart(t testing.TB) {
	t.Helper()
	select {
	case <-p.Exited():
	default:
		t.Fatalf("restart %s: it is still running", p.Name)
	}
	p.start(t)
	p.WaitReady(t)
}

// WaitReady polls /readyz until it answers 200.
func (p *ServiceProcess) WaitReady(t testing.TB) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	url, exited := p.URL(), p.Exited()
	last := ""
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("%s exited before it was ready:\n%s", p.Name, p.Out.Tail(8<<10))
		default:
		}
		res, err := client.Get(url + "/readyz")
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
	t.Fatalf("%s never became ready (last: %s):\n%s", p.Name, last, p.Out.Tail(8<<10))
}

// Pid is the process id of the current run.
func (p *ServiceProcess) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}
