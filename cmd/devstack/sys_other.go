//go:build !unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

func ownProcessGroup(*exec.Cmd) {}

// runAsPostgresUser: there is no root to step down from on this system.
func runAsPostgresUser(*exec.Cmd, string) error { return nil }

// lockState: no lock here; the port checks still refuse a second make dev.
func lockState(string) (bool, error) { return true, nil }

var stopSignals = []os.Signal{os.Interrupt}

const (
	sigTerm = syscall.SIGTERM
	sigInt  = syscall.SIGINT
)
