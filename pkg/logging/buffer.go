package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Buffered collects log lines and writes them out in batches: every
// interval, when a batch fills, on a warning or an error (see New), and on
// Close. A request log written line by line costs a write system call per
// request, a good part of a cached read's time; batches cost one per many.
type Buffered struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	stop chan struct{}
	done chan struct{}
}

// flushAt is the batch size that is written at once, without waiting.
const flushAt = 64 << 10

// NewBuffered starts a Buffered writer on w; call Close to write the rest.
func NewBuffered(w io.Writer, interval time.Duration) *Buffered {
	b := &Buffered{w: w, buf: make([]byte, 0, flushAt), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write adds p to the batch.
func (b *Buffered) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) >= flushAt {
		return len(p), b.flushLocked()
	}
	return len(p), nil
}

// Flush writes the batch out now.
func (b *Buffered) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *Buffered) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close stops the ticker and writes what is left.
func (b *Buffered) Close() error {
	close(b.stop)
	<-b.done
	return b.Flush()
}

// flushing writes a Buffered's batch out after every record at warn or
// above, so what an operator must see is never waiting in a buffer.
type flushing struct {
	slog.Handler
	b *Buffered
}

func (h flushing) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		_ = h.b.Flush()
	}
	return err
}

func (h flushing) WithAttrs(as []slog.Attr) slog.Handler {
	return flushing{h.Handler.WithAttrs(as), h.b}
}

func (h flushing) WithGroup(name string) slog.Handler {
	return flushing{h.Handler.WithGroup(name), h.b}
}
