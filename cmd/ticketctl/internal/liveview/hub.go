package liveview

import (
	"sync"
	"sync/atomic"
)

// hub fans SSE frames out to every connected browser. It never waits for a browser: each
// client has a bounded buffer, and a frame that does not fit is dropped for that client
// alone and counted, so one stalled tab cannot hold up the stream or the other tabs.
type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
	buffer  int
	// recent keeps the last ticket frames so a page that opens (or reconnects) starts with
	// the latest events instead of an empty table.
	recent []recentFrame
	keep   int
}

type recentFrame struct {
	seq   uint64
	frame []byte
}

// client is one connected browser.
type client struct {
	ch      chan []byte
	dropped atomic.Uint64
}

func newHub(buffer, keep int) *hub {
	return &hub{clients: make(map[*client]struct{}), buffer: buffer, keep: keep}
}

// subscribe registers a client and returns the kept frames after seq afterSeq (the browser's
// Last-Event-ID), in order. Both happen under the lock that publish takes, so the client
// sees every ticket frame exactly once: either in the backlog or on its channel.
func (h *hub) subscribe(afterSeq uint64) (*client, [][]byte) {
	c := &client{ch: make(chan []byte, h.buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clients[c] = struct{}{}
	var backlog [][]byte
	for _, r := range h.recent {
		if r.seq > afterSeq {
			backlog = append(backlog, r.frame)
		}
	}
	return c, backlog
}

func (h *hub) unsubscribe(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.clients, c)
}

// publish keeps a ticket frame for late joiners and sends it to everyone.
func (h *hub) publish(seq uint64, frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.keep > 0 {
		if len(h.recent) == h.keep {
			copy(h.recent, h.recent[1:])
			h.recent = h.recent[:h.keep-1]
		}
		h.recent = append(h.recent, recentFrame{seq: seq, frame: frame})
	}
	h.sendLocked(frame)
}

// broadcast sends a frame that is only of interest now (stats, notices) to everyone.
func (h *hub) broadcast(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sendLocked(frame)
}

func (h *hub) sendLocked(frame []byte) {
	for c := range h.clients {
		select {
		case c.ch <- frame:
		default:
			c.dropped.Add(1)
		}
	}
}

// count is the number of connected clients.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// takeDropped returns how many frames this client lost since the last call.
func (c *client) takeDropped() uint64 { return c.dropped.Swap(0) }
