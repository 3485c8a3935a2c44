package testinfra

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"testing"
	"time"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// UniqueName returns prefix + "_" + 10 random base32 characters (upper case), e.g. "TICKETS_K3Q7M2ZB4X".
// Tests share one NATS and one Redis server, also across the packages go test runs in parallel; a unique
// stream name, subject token or key prefix per test keeps them from seeing each other's data. The result
// holds only letters, digits and underscores (other characters in prefix become "_"), which NATS stream
// names, subject tokens and Redis keys all accept.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [7]byte // 56 random bits, 10 base32 characters hold 50 of them
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testinfra.UniqueName: %v", err)
	}
	suffix := b32.EncodeToString(b[:])[:10]
	p := strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			return r
		}
		return '_'
	}, prefix)
	if p == "" {
		return suffix
	}
	return p + "_" + suffix
}

// Eventually calls cond every 10ms until it returns true, and fails the test with msgAndArgs (a format
// string and its arguments) if timeout passes first. Asynchronous effects (an event relayed, a cache
// refreshed) are awaited with this, never with a fixed sleep: a sleep is either too short on a loaded CI
// machine or wastes time everywhere else. Call it from the test's goroutine, like t.Fatal.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testinfra.Eventually: not true after %v: %s", timeout, formatMsg(msgAndArgs))
			return
		}
		<-tick.C
	}
}

func formatMsg(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return "condition never held"
	}
	if format, ok := msgAndArgs[0].(string); ok && len(msgAndArgs) > 1 {
		return fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}
