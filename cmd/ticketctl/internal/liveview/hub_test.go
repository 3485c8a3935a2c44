package liveview

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

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
	assert.Zero(t, fast.takeDropped(), "the fast client lost nothing")
	for i := 1; i <= 10; i++ {
		assert.Equal(t, fmt.Sprintf("frame %d", i), string(<-got))
	}

	assert.Len(t, slow.ch, 4, "the slow client's buffer is full")
	assert.Equal(t, uint64(6), slow.takeDropped(), "and the rest was dropped for it alone")
	assert.Zero(t, slow.takeDropped(), "the count starts again once taken")
	assert.Equal(t, "frame 1", string(<-slow.ch), "what was buffered is the oldest")

	h.unsubscribe(slow)
	h.unsubscribe(fast)
	assert.Zero(t, h.count())
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
	assert.Equal(t, [][]byte{[]byte("3"), []byte("4"), []byte("5")}, backlog, "only the last 3 are kept")
	_, backlog = h.subscribe(4)
	assert.Equal(t, [][]byte{[]byte("5")}, backlog, "after Last-Event-ID 4")
	_, backlog = h.subscribe(5)
	assert.Empty(t, backlog)

	h.publish(6, []byte("6"))
	assert.Equal(t, "6", string(<-c.ch))
	assert.Equal(t, 3, h.count())
}
