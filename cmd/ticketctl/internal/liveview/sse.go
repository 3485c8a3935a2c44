package liveview

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// retryMillis is how long EventSource waits before it reconnects by itself.
const retryMillis = 2000

// serveEvents streams frames to one browser until it leaves or the server stops. A write
// that does not finish within WriteTimeout ends the stream: a browser that stopped reading
// costs one goroutine for that long, and never slows the hub.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	// The server's read timeout is for requests, not for a stream that lasts
	// as long as the page is open; its writes set their own deadline below.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	after, _ := strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
	c, backlog := s.hub.subscribe(after)
	defer s.hub.unsubscribe(c)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	write := func(b []byte) bool {
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	first := []byte("retry: " + strconv.Itoa(retryMillis) + "\n\n")
	for _, b := range backlog {
		first = append(first, b...)
	}
	s.mu.Lock()
	first = append(first, s.lastStats...)
	s.mu.Unlock()
	if !write(first) {
		return
	}

	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-s.ending:
			return
		case <-heartbeat.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		case b := <-c.ch:
			if n := c.takeDropped(); n > 0 {
				b = append(frame("lagging", 0, map[string]uint64{"dropped": n}), b...)
			}
			if !write(b) {
				return
			}
		}
	}
}
