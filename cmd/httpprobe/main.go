// Command httpprobe is the container healthcheck of the service images: the
// final images are distroless (no shell, no curl, no wget), so compose's
// healthcheck runs this static binary instead.
//
//	httpprobe http://127.0.0.1:8081/readyz
//
// It exits 0 when the URL answers 2xx within the timeout, 1 otherwise, with
// one line on stderr saying why.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"time"
)

// timeout is below compose's healthcheck timeout, so a hung endpoint is
// reported by the probe itself rather than killed without a word.
const timeout = 2 * time.Second

const usage = `httpprobe: the container healthcheck of the images: exits 0 when URL answers 2xx within
2 seconds, 1 otherwise, with one line on stderr saying why.

Usage:
  httpprobe URL
  httpprobe --help      this text
  httpprobe --version   the version, commit and Go version of this build

Environment: none.
`

func main() {
	if len(os.Args) == 2 {
		switch os.Args[1] {
		case "-h", "--help", "-help":
			fmt.Print(usage)
			return
		case "--version", "-version":
			fmt.Println("httpprobe", version())
			return
		}
	}
	if err := probe(context.Background(), os.Args[1:], timeout); err != nil {
		fmt.Fprintln(os.Stderr, "httpprobe:", err)
		os.Exit(1)
	}
}

// version reads the build information with the standard library only: the
// front door's image builds this file on its own, outside the module.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v, commit := bi.Main.Version, "unknown"
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			commit = s.Value[:12]
		}
	}
	return fmt.Sprintf("%s (commit %s, %s)", v, commit, bi.GoVersion)
}

func probe(ctx context.Context, args []string, timeout time.Duration) error {
	if len(args) != 1 {
		return errors.New("usage: httpprobe URL")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return fmt.Errorf("bad URL: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// The readiness body names the failing dependency: pass it on, bounded.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d: %s", args[0], resp.StatusCode, body)
	}
	return nil
}
