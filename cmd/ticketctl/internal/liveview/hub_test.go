package liveview

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// A browser that stops reading loses frames (and is told how many), while the others get
// every frame and publishing never waits for it.
func TestHubSlowClientDropsWithoutBlockingOthers(t *testing.T) {
	t.Parallel()
	h := newHub(4, 0)
	slow, _ := h.subscribe(0)
	fast, _ := h.subscribe(0)

	got := make(chan []byte, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range fast.ch {
			got <- b
			if len(got) == 10 {
				return
			}
		}
	}()
	for i := 1; i <= 10; i++ {
		// With a buffer of 4 a blocking send would hang here on the slow client's 5th frame.
		h.publish(uint64(i), fmt.Appendf(nil, "frame %d", i))
		// Keep the fast client within its buffer: it must lose nothing.
		testinfra.Eventually(t, 10*time.Second, func() bool { return len(got) == i }, "the fast client got frame %d", i)
	}
	<-done
	if n := fast.takeDropped(); n != 0 {
		t.Errorf("the fast client lost %d frames, want none", n)
	}
	for i := 1; i <= 10; i++ {
		if got, want := string(<-got), fmt.Sprintf("frame %d", i); got != want {
			t.Errorf("the fast client's frame %d is %q, want %q", i, got, want)
		}
	}

	if n := len(slow.ch); n != 4 {
		t.Errorf("the slow client's buffer holds %d frames, want 4: full", n)
	}
	if n := slow.takeDropped(); n != 6 {
		t.Errorf("%d frames dropped for the slow client, want the other 6", n)
	}
	if n := slow.takeDropped(); n != 0 {
		t.Errorf("dropped count %d after it was taken, want 0: the count starts again", n)
	}
	if got, want := string(<-slow.ch), "frame 1"; got != want {
		t.Errorf("the slow client's first buffered frame is %q, want the oldest, %q", got, want)
	}

	h.unsubscribe(slow)
	h.unsubscribe(fast)
	if n := h.count(); n != 0 {
		t.Errorf("%d clients after both unsubscribed, want 0", n)
	}
	h.broadcast([]byte("nobody listens")) // no clients: must not block or panic
}

// A page that opens gets the kept events after its Last-Event-ID, then the live ones, each
// exactly once.
func TestHubBacklogAfterLastEventID(t *testing.T) {
	t.Parallel()
	h := newHub(8, 3)
	for i := 1; i <= 5; i++ {
		h.publish(uint64(i), fmt.Appendf(nil, "%d", i))
	}
	h.broadcast([]byte("stats")) // not kept

	c, backlog := h.subscribe(0)
	if want := [][]byte{[]byte("3"), []byte("4"), []byte("5")}; !reflect.DeepEqual(backlog, want) {
		t.Errorf("backlog %q, want only the last 3 kept, %q", backlog, want)
	}
	_, backlog = h.subscribe(4)
	if want := [][]byte{[]byte("5")}; !reflect.DeepEqual(backlog, want) {
		t.Errorf("backlog after Last-Event-ID 4 %q, want %q", backlog, want)
	}
	_, backlog = h.subscribe(5)
	if len(backlog) != 0 {
		t.Errorf("backlog after Last-Event-ID 5 %q, want none", backlog)
	}

	h.publish(6, []byte("6"))
	if got := string(<-c.ch); got != "6" {
		t.Errorf("live frame %q, want %q", got, "6")
	}
	if n := h.count(); n != 3 {
		t.Errorf("%d clients, want 3", n)
	}
}
