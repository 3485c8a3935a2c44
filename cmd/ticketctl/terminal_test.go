package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// runTTY runs a command line as runCLI does, but with stdout and stderr taken for a terminal
// as asked; setup, when given, changes the app further before it runs.
func runTTY(t *testing.T, vars map[string]string, stdoutTTY, stderrTTY bool, setup func(*app), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(env(vars), &out, &errOut)
	a.isTerminal = func(w io.Writer) bool {
		return (w == io.Writer(&out) && stdoutTTY) || (w == io.Writer(&errOut) && stderrTTY)
	}
	if setup != nil {
		setup(a)
	}
	code = a.execute(context.Background(), args)
	return code, out.String(), errOut.String()
}

// screen is what a terminal shows after s: \r returns to the start of the line, and what is
// written then overwrites it. Trailing blanks are dropped.
func screen(s string) string {
	var lines []string
	var line []rune
	col := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(string(line), " "))
		line, col = nil, 0
	}
	for _, r := range s {
		switch r {
		case '\r':
			col = 0
		case '\n':
			flush()
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	if len(line) > 0 {
		flush()
	}
	return strings.Join(lines, "\n")
}

func TestIsTerminalIsFalseForBuffersAndFiles(t *testing.T) {
	t.Parallel()
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is taken for a terminal")
	}
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is taken for a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe is taken for a terminal")
	}
}

func TestCacheCheckProgressOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	for i := range 3 {
		f.cacheTicket(f.insert("Ticket "+string(rune('A'+i)), "open", "medium", ""))
	}
	args := []string{"cache", "check", "--prefix", f.prefix, "--grace", "0"}

	code, plainOut, plainErr := runTTY(t, f.env(), false, false, nil, args...)
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stdout=%s stderr=%s", code, exitOK, plainOut, plainErr)
	}
	if plainErr != "" {
		t.Errorf("stderr is not a terminal, yet got %q", plainErr)
	}
	// A terminal on stdout alone changes nothing: progress goes to stderr.
	if _, out, errOut := runTTY(t, f.env(), true, false, nil, args...); out != plainOut || errOut != "" {
		t.Errorf("stdout a terminal: stdout %q stderr %q, want %q and none", out, errOut, plainOut)
	}

	code, out, errOut := runTTY(t, f.env(), false, true, nil, args...)
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stdout=%s stderr=%s", code, exitOK, out, errOut)
	}
	if out != plainOut {
		t.Errorf("stdout = %q, want the same report as without a terminal, %q", out, plainOut)
	}
	for _, want := range []string{"\rticketctl: checked 0/3 keys", "\rticketctl: checked 3/3 keys"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks the progress line %q", errOut, want)
		}
	}
	if strings.Contains(errOut, "\n") {
		t.Errorf("stderr %q: the progress line must update in place, not add lines", errOut)
	}
	if got := screen(errOut); got != "" {
		t.Errorf("the progress line is left on the terminal: %q", got)
	}
}

// With a second pass the note between the passes and the final message start on a clean
// line: what is left on the terminal is exactly the output without one.
func TestCacheCheckProgressIsClearedBeforeMessages(t *testing.T) {
	t.Parallel()
	f := newCacheFixture(t)
	fresh := f.insert("Fine", "open", "medium", "")
	f.cacheTicket(fresh)
	moved := f.insert("Printer jammed", "open", "medium", "")
	f.cacheTicket(moved)
	f.retitle(moved, "Printer fixed")
	noWait := func(a *app) { a.pause = func(context.Context, time.Duration) error { return nil } }
	args := []string{"cache", "check", "--prefix", f.prefix, "--grace", "5s"}

	code, plainOut, plainErr := runTTY(t, f.env(), false, false, noWait, args...)
	if code != exitStale {
		t.Fatalf("exit code %d, want %d; stdout=%s stderr=%s", code, exitStale, plainOut, plainErr)
	}
	if strings.Contains(plainErr, "\r") {
		t.Errorf("stderr is not a terminal, yet has a progress line: %q", plainErr)
	}

	code, out, errOut := runTTY(t, f.env(), false, true, noWait, args...)
	if code != exitStale {
		t.Fatalf("exit code %d, want %d; stdout=%s stderr=%s", code, exitStale, out, errOut)
	}
	if out != plainOut {
		t.Errorf("stdout = %q, want %q", out, plainOut)
	}
	for _, want := range []string{"\rticketctl: checked 2/2 keys", "\rticketctl: checked 1/1 keys"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks the progress line %q", errOut, want)
		}
	}
	if got, want := screen(errOut), strings.TrimSuffix(plainErr, "\n"); got != want {
		t.Errorf("the terminal shows\n%q\nwant\n%q", got, want)
	}
}

var ansiRe = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTailColourOnlyOnATerminalWithoutNoColor(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	id := newID()
	s.publish(event(id, ticketevent.Created, 1))
	s.publish(event(id, ticketevent.Updated, 2, "title"))
	s.publish(event(id, ticketevent.Deleted, 3))
	args := s.args("events", "tail", "--all", "--count", "3")

	code, plain, errOut := runTTY(t, s.env(), false, false, nil, args...)
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if strings.Contains(plain, "\x1b") {
		t.Errorf("not a terminal, yet coloured:\n%q", plain)
	}

	t.Run("terminal", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := runTTY(t, s.env(), true, false, nil, args...)
		if code != exitOK {
			t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
		}
		for _, want := range []string{ansiGreen + "CREATED", ansiYellow + "UPDATED", ansiRed + "DELETED",
			ansiDim + "2026-11-26T10:05:00.654Z" + ansiReset} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%q", want, out)
			}
		}
		if got := ansiRe.ReplaceAllString(out, ""); got != plain {
			t.Errorf("without its colour codes the output is\n%q\nwant\n%q", got, plain)
		}
		if strings.Contains(errOut, "\x1b") {
			t.Errorf("stderr is coloured: %q", errOut)
		}
	})
	for name, tc := range map[string]struct {
		vars map[string]string
		args []string
	}{
		"NO_COLOR=1":   {map[string]string{"NO_COLOR": "1"}, args},
		"NO_COLOR=no":  {map[string]string{"NO_COLOR": "no"}, args}, // any non-empty value
		"TERM=dumb":    {map[string]string{"TERM": "dumb"}, args},
		"--json":       {nil, append(args, "--json")},
		"stderr a tty": {nil, args}, // stderr's being a terminal says nothing about stdout
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vars := s.env()
			for k, v := range tc.vars {
				vars[k] = v
			}
			code, out, errOut := runTTY(t, vars, name != "stderr a tty", true, nil, tc.args...)
			if code != exitOK {
				t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("coloured:\n%q", out)
			}
			if name == "--json" {
				for line := range strings.Lines(out) {
					if !json.Valid([]byte(line)) {
						t.Errorf("not a JSON line: %q", line)
					}
				}
			} else if out != plain {
				t.Errorf("stdout\n%q\nwant\n%q", out, plain)
			}
		})
	}
}
