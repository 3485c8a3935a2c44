package testinfra

import (
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"
	"time"
)

func TestUniqueName(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^TICKETS_[A-Z2-7]{10}$`)
	seen := map[string]bool{}
	for range 1000 {
		n := UniqueName(t, "TICKETS")
		if !re.MatchString(n) {
			t.Fatalf("UniqueName = %q", n)
		}
		if seen[n] {
			t.Fatalf("%q twice", n)
		}
		seen[n] = true
	}
	if n := UniqueName(t, "a.b c>*"); !regexp.MustCompile(`^a_b_c___[A-Z2-7]{10}$`).MatchString(n) {
		t.Errorf("UniqueName with bad characters = %q", n)
	}
	if n := UniqueName(t, ""); !regexp.MustCompile(`^[A-Z2-7]{10}$`).MatchString(n) {
		t.Errorf("UniqueName without prefix = %q", n)
	}
}

// fakeTB records Fatalf instead of ending the test, so Eventually's failure can be checked.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
}

func TestEventually(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	start := time.Now()
	Eventually(t, time.Second, func() bool { return calls.Add(1) == 3 })
	if took := time.Since(start); took > 500*time.Millisecond || calls.Load() != 3 {
		t.Errorf("3 polls took %v (%d calls)", took, calls.Load())
	}

	f := &fakeTB{TB: t}
	start = time.Now()
	Eventually(f, 50*time.Millisecond, func() bool { return false }, "ticket %s never cached", "42")
	if took := time.Since(start); took < 50*time.Millisecond || took > time.Second {
		t.Errorf("failing Eventually returned after %v", took)
	}
	if want := "testinfra.Eventually: not true after 50ms: ticket 42 never cached"; f.fatal != want {
		t.Errorf("got %q, want %q", f.fatal, want)
	}
}
