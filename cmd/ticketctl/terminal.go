package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/mattn/go-isatty"
)

// isTerminal reports whether w is a file open on a terminal (a pipe, a file or a buffer is not).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// useColor reports whether output to w may be coloured: w is a terminal, and neither
// NO_COLOR (any non-empty value, https://no-color.org) nor TERM=dumb asks for none.
func (a *app) useColor(w io.Writer) bool {
	return a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb" && a.isTerminal(w)
}

// ANSI SGR codes: plain escapes, understood by every terminal in use.
const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// paint wraps s in the SGR code, or leaves it alone when code is "".
func paint(code, s string) string {
	if code == "" {
		return s
	}
	return code + s + ansiReset
}

// progress is a single status line on a terminal, rewritten in place with \r and wiped by
// done. It writes nothing when w is nil (not a terminal), so callers need not check.
type progress struct {
	w     io.Writer
	what  string
	total int
	n     int
	width int // of the last line written, to blank it out
}

// newProgress starts a line counting up to total; w nil means no output at all.
func newProgress(w io.Writer, what string, total int) *progress {
	p := &progress{w: w, what: what, total: total}
	p.show()
	return p
}

// add counts n more items done and rewrites the line.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.n += n
	p.show()
}

func (p *progress) show() {
	if p == nil || p.w == nil {
		return
	}
	line := fmt.Sprintf("ticketctl: %s %d/%d keys", p.what, p.n, p.total)
	pad := max(p.width-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.width = len(line)
}

// done wipes the line, leaving the cursor at the start of an empty line.
func (p *progress) done() {
	if p == nil || p.w == nil || p.width == 0 {
		return
	}
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	p.width = 0
}
