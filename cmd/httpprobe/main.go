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
	"time"
)

// timeout is below compose's healthcheck timeout, so a hung endpoint is
// reported by the probe itself rather than killed without a word.
const timeout = 2 * time.Second

func main() {
	if err := probe(context.Background(), os.Args[1:], timeout); err != nil {
		fmt.Fprintln(os.Stderr, "httpprobe:", err)
		os.Exit(1)
	}
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
