package testinfra

import (
	"bytes"
	"strings"
	"sync"
)

// SyncBuffer collects output that something running in the background (a server's logger, a child
// process, a command run in a goroutine) writes while the test reads it. A plain bytes.Buffer would be a
// data race there, which -race reports, and a read could see half a write. The zero value is ready to use.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it is the io.Writer the background writer is given.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far. It is what %s and %v print, so a SyncBuffer can be passed
// straight to a failure message (by pointer, so that it is read when the message is made).
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of everything written so far: the writer keeps appending, so the buffer's own
// slice could change under the caller.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// Lines returns the complete lines written so far, without their line breaks. A last line that has no
// line break yet is left out: it may be a log record still being written.
func (s *SyncBuffer) Lines() []string {
	out := s.String()
	end := strings.LastIndexByte(out, '\n')
	if end < 0 {
		return nil
	}
	return strings.Split(out[:end], "\n")
}

// Tail returns at most the last n bytes written, for failure messages about a process that may have
// logged megabytes before it went wrong.
func (s *SyncBuffer) Tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if n < 0 {
		n = 0
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
