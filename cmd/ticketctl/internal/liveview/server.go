// Package liveview serves the live view of ticketctl ui: one page that shows the ticket
// events as they flow, the durable consumer's lag and the cache hit ratio, kept current by
// server-sent events. It knows nothing of NATS: the command feeds it events (Publish) and a
// function that reads the stream's numbers (Config.NATS), so the page can be tested alone.
package liveview

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Config is what a Server needs; zero durations and sizes take the defaults below.
type Config struct {
	// NATS reads the stream, consumer and DLQ numbers; called once per Interval.
	NATS func(ctx context.Context) (NATSStats, error)
	// MetricsURL is the query service's /metrics; empty shows the hit ratio as n/a.
	MetricsURL string
	// Interval between two stats frames (default 1s).
	Interval time.Duration
	// Heartbeat between two SSE comments on an idle stream, so proxies keep it open (default 15s).
	Heartbeat time.Duration
	// Buffer is how many frames a browser may fall behind before frames are dropped for it (default 256).
	Buffer int
	// Keep is how many recent events a page gets when it opens (default 200, the table's size).
	Keep int
	// WriteTimeout bounds one write to a browser; a browser that stops reading is disconnected (default 10s).
	WriteTimeout time.Duration
	Logger       *slog.Logger
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Buffer <= 0 {
		c.Buffer = 256
	}
	if c.Keep <= 0 {
		c.Keep = 200
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Event is one row of the page's table.
type Event struct {
	Seq         uint64   `json:"seq"`
	EventID     string   `json:"event_id"`
	Subject     string   `json:"subject"`
	Time        string   `json:"time"` // occurred_at, UTC, as ticketctl events tail prints it
	Ticket      string   `json:"ticket"`
	Change      string   `json:"change"`
	Version     int64    `json:"version"`
	Fields      []string `json:"fields"`
	Actor       string   `json:"actor"`
	Correlation string   `json:"correlation"`
	// Line is the event as ticketctl events tail prints it, for copying into a chat.
	Line string `json:"line"`
}

// Server holds the hub and the latest stats; Handler serves it, Run keeps the stats current.
type Server struct {
	cfg     Config
	hub     *hub
	scraper *scraper
	ratio   hitRatio
	done    chan struct{} // closed when Run ends: open streams end with it
	ending  chan struct{} // closed by EndStreams
	endOnce sync.Once

	mu        sync.Mutex
	lastStats []byte // the latest stats frame, sent first to a new page
	events    uint64 // events published since start, for events/s
	lastSeq   uint64 // stream sequence of the latest event published
}

// New returns a Server; call Run to start the stats and serve Handler.
func New(cfg Config) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, hub: newHub(cfg.Buffer, cfg.Keep), done: make(chan struct{}), ending: make(chan struct{})}
	if cfg.MetricsURL != "" {
		timeout := min(cfg.Interval, 2*time.Second)
		s.scraper = &scraper{url: cfg.MetricsURL, client: &http.Client{Timeout: timeout}}
	}
	return s
}

// Handler serves the page, the event stream and the health check.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.servePage)
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	return securityHeaders(mux)
}

// EndStreams ends every open event stream, and those opened later at once,
// so a server shutting down need not wait for them; the pages reconnect by
// themselves to whatever serves next.
func (s *Server) EndStreams() { s.endOnce.Do(func() { close(s.ending) }) }

// Clients is the number of connected browsers.
func (s *Server) Clients() int { return s.hub.count() }

// Publish sends one event to every page.
func (s *Server) Publish(ev Event) {
	if ev.Fields == nil {
		ev.Fields = []string{}
	}
	s.mu.Lock()
	s.events++
	s.lastSeq = max(s.lastSeq, ev.Seq)
	s.mu.Unlock()
	s.hub.publish(ev.Seq, frame("ticket", ev.Seq, ev))
}

// LastSeq is the stream sequence of the latest event published, 0 before the first; a
// feeder that lost its consumer resumes after it.
func (s *Server) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSeq
}

// Notice shows a passing message on every page (a message that did not decode, the
// stream being re-read after an error).
func (s *Server) Notice(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.cfg.Logger.Warn(msg)
	s.hub.broadcast(frame("notice", 0, map[string]string{"message": msg}))
}

// frame encodes one SSE message. Ticket frames carry the stream sequence as id, so a
// reconnecting EventSource says where it was (Last-Event-ID).
func frame(event string, id uint64, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		data = []byte(`{}`) // our own plain structs: cannot happen
	}
	b := make([]byte, 0, len(data)+64)
	if id > 0 {
		b = fmt.Appendf(b, "id: %d\n", id)
	}
	b = fmt.Appendf(b, "event: %s\ndata: %s\n\n", event, data)
	return b
}

// securityHeaders: the page loads nothing from elsewhere (the network may be closed, and a
// tool on an operator's machine should not call out), and nobody may frame it. Requests must
// name the server by an IP address or localhost: a web page that rebinds its own DNS name to
// 127.0.0.1 (DNS rebinding) would otherwise read the stream from the operator's browser.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !directHost(r.Host) {
			http.Error(w, "use an IP address or localhost to open the live view", http.StatusMisdirectedRequest)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// directHost reports whether host (a Host header) is an IP literal or localhost.
func directHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return host == "localhost" || net.ParseIP(host) != nil
}
