package testinfra

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

func TestDeleteStreamsAtCleanup(t *testing.T) {
	t.Parallel()
	js := JetStream(t, NATSURL(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := UniqueName(t, "CLEANUP")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"test." + name + ".>"},
		Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	keep := UniqueName(t, "KEEP")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: keep, Subjects: []string{"test." + keep + ".>"},
		Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), keep) })

	// A DLQ the test never created: not found is no reason to complain.
	never := UniqueName(t, "NEVER")
	rec := &recordingTB{TB: t}
	DeleteStreamsAtCleanup(rec, js, name, never)
	if len(rec.cleanups) != 1 {
		t.Fatalf("%d cleanups registered, want 1", len(rec.cleanups))
	}
	if _, err := js.Stream(ctx, name); err != nil {
		t.Fatalf("stream gone before the cleanup ran: %v", err)
	}
	rec.runCleanups()

	if _, err := js.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("looking the stream up after the cleanup: %v, want %v", err, jetstream.ErrStreamNotFound)
	}
	if _, err := js.Stream(ctx, keep); err != nil {
		t.Errorf("a stream the cleanup was not given is gone: %v", err)
	}
	if len(rec.logs) != 0 {
		t.Errorf("cleanup logged %q, want nothing: a missing stream is fine", rec.logs)
	}
}

// recordingTB is the test's own testing.TB with Cleanup, Logf and Fatal recorded instead of acted on, so
// that a test can run a helper's cleanup when it wants and see what the helper reported.
type recordingTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	logs     []string
	fatal    bool
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recordingTB) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Fatal(args ...any) {
	r.mu.Lock()
	r.fatal = true
	r.logs = append(r.logs, fmt.Sprint(args...))
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recordingTB) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

// runCleanups runs the recorded cleanups last-in first-out, as testing does.
func (r *recordingTB) runCleanups() {
	r.mu.Lock()
	cs := r.cleanups
	r.cleanups = nil
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}
