package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// stopTimeout is how long a process gets after its stop signal before it is killed: the services'
// SHUTDOWN_TIMEOUT is 20 s.
const stopTimeout = 30 * time.Second

// logMerger writes every line of every process to one writer as "[name] line", one whole line at a time
// under one mutex, so lines of different processes never interleave.
type logMerger struct {
	mu  sync.Mutex
	out io.Writer
}

// copyLines scans r until EOF and writes each line with prefix ("[name] "). The line is assembled in one
// buffer that is reused: no allocation per line beyond the scanner's own buffer.
func (m *logMerger) copyLines(prefix string, r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := make([]byte, 0, 256)
	for sc.Scan() {
		line = append(line[:0], prefix...)
		line = append(line, sc.Bytes()...)
		line = append(line, '\n')
		m.mu.Lock()
		_, _ = m.out.Write(line)
		m.mu.Unlock()
	}
	if err := sc.Err(); err != nil {
		// A line longer than 1 MiB: say so, then drain the rest so the process never blocks on its pipe.
		m.printf("%s(log line too long: %v; the rest of this process's output is dropped)\n", prefix, err)
		_, _ = io.Copy(io.Discard, r)
	}
}

func (m *logMerger) printf(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.out, format, args...)
}

// proc is one process devstack started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stopSig syscall.Signal // what asks it to stop: SIGTERM, or SIGINT for postgres's fast shutdown
	done    chan struct{}  // closed once it has exited and its output is read
	err     error          // its exit status, valid after done
}

// supervisor starts processes and stops them again, the ones it started and nothing else.
type supervisor struct {
	logs   *logMerger
	mu     sync.Mutex
	procs  []*proc
	exited chan *proc // each process once, when it exits
}

func newSupervisor(logs *logMerger) *supervisor {
	return &supervisor{logs: logs, exited: make(chan *proc, 16)}
}

// start runs cmd in a process group of its own (the terminal's Ctrl-C reaches devstack only, which then
// stops each process in order). With logFile "" its output goes to the merged log as "[name] line";
// otherwise to that file.
func (s *supervisor) start(name string, cmd *exec.Cmd, stopSig syscall.Signal, logFile string) (*proc, error) {
	ownProcessGroup(cmd)
	p := &proc{name: name, cmd: cmd, stopSig: stopSig, done: make(chan struct{})}
	var copied chan struct{}
	var w *os.File
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		w = f
	} else {
		r, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		w = pw
		copied = make(chan struct{})
		go func() {
			defer close(copied)
			defer r.Close()
			s.logs.copyLines("["+name+"] ", r)
		}()
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	w.Close() // the child holds its own copy; EOF comes when it exits
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		if copied != nil {
			<-copied
		}
		close(p.done)
		s.exited <- p
	}()
	return p, nil
}

func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop signals each process, then waits for all of them (up to stopTimeout, then SIGKILL).
func stopAll(ps []*proc) {
	for _, p := range ps {
		if p.alive() {
			_ = p.cmd.Process.Signal(p.stopSig)
		}
	}
	deadline := time.After(stopTimeout)
	for _, p := range ps {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// stopEverything stops the front door and the services first, then the servers devstack started (NATS,
// Redis, Postgres, in that order): the invalidator and the relay finish against servers that are still up.
func (s *supervisor) stopEverything(servers ...string) {
	s.mu.Lock()
	procs := append([]*proc(nil), s.procs...)
	s.mu.Unlock()
	isServer := map[string]bool{}
	for _, n := range servers {
		isServer[n] = true
	}
	var apps []*proc
	for _, p := range procs {
		if !isServer[p.name] {
			apps = append(apps, p)
		}
	}
	stopAll(apps)
	for _, n := range servers {
		for _, p := range procs {
			if p.name == n {
				stopAll([]*proc{p})
			}
		}
	}
}

func (s *supervisor) any() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.procs) > 0
}

// exitError says how a process ended.
func exitError(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
