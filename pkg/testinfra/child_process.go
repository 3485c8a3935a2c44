package testinfra

import "os/exec"

// childProcess is one run of a server process a test started (a NATS or
// Redis node): its command, and a channel closed once it has exited.
type childProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func (c *childProcess) running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the exit.
func (c *childProcess) kill() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
	c.cmd = nil
}
