// Package stack reads the local stack's files the way their tools do, so
// tests can check them on a machine without a Docker engine: the compose
// file through compose-go (what `docker compose` itself uses), the service
// Dockerfiles through a small instruction parser, and go.work for the list of
// modules the Dockerfiles must copy.
package stack

import (
	"errors"
	"os"
	"path/filepath"
)

// RepoRoot walks up from dir to the directory that holds go.work.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above " + dir)
		}
		dir = parent
	}
}
