package testinfra

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Run with -race: writers and readers at the same time must be no data race, and no write may be torn.
func TestSyncBufferConcurrentWrites(t *testing.T) {
	t.Parallel()
	const writers, lines = 8, 500
	var (
		buf  SyncBuffer
		wg   sync.WaitGroup
		stop = make(chan struct{})
		read sync.WaitGroup
	)
	read.Go(func() { // a test polling the log while the server writes it
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = buf.String()
			_ = buf.Bytes()
			_ = buf.Lines()
			_ = buf.Tail(64)
		}
	})
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				if _, err := fmt.Fprintf(&buf, "writer=%d line=%d end\n", w, i); err != nil {
					t.Errorf("Write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	read.Wait()

	got := buf.Lines()
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	seen := map[string]bool{}
	for _, l := range got {
		var w, i int
		if n, err := fmt.Sscanf(l, "writer=%d line=%d end", &w, &i); n != 2 || err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		seen[l] = true
	}
	if len(seen) != writers*lines {
		t.Errorf("%d distinct lines, want %d", len(seen), writers*lines)
	}
}

func TestSyncBufferReads(t *testing.T) {
	t.Parallel()
	var buf SyncBuffer
	if got := buf.Lines(); got != nil {
		t.Errorf("Lines of an empty buffer = %q, want nil", got)
	}
	if n, err := buf.Write([]byte("first\nsecond\nthird, still being writ")); n != 36 || err != nil {
		t.Fatalf("Write = %d, %v, want 36, nil", n, err)
	}

	if got, want := buf.String(), "first\nsecond\nthird, still being writ"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if got, want := strings.Join(buf.Lines(), "|"), "first|second"; got != want {
		t.Errorf("Lines = %q, want %q (the unfinished last line left out)", got, want)
	}
	if got, want := buf.Tail(4), "writ"; got != want {
		t.Errorf("Tail(4) = %q, want %q", got, want)
	}
	if got, want := buf.Tail(1000), buf.String(); got != want {
		t.Errorf("Tail(1000) = %q, want everything, %q", got, want)
	}
	if got := buf.Tail(0); got != "" {
		t.Errorf("Tail(0) = %q, want empty", got)
	}

	b := buf.Bytes()
	b[0] = 'X'
	if got := buf.String(); !strings.HasPrefix(got, "first") {
		t.Errorf("changing the slice Bytes returned changed the buffer: %q", got)
	}
}
