package liveview

import (
	"context"
	"time"
)

// NATSStats are the stream numbers the page shows; the command fills them in from the
// same code as ticketctl events stats.
type NATSStats struct {
	Stream   StreamStats   `json:"stream"`
	Consumer ConsumerStats `json:"consumer"`
	DLQ      StreamStats   `json:"dlq"`
}

// StreamStats is one stream; Exists is false for a DLQ nothing was dead-lettered to yet.
type StreamStats struct {
	Name     string `json:"name"`
	Exists   bool   `json:"exists"`
	Messages uint64 `json:"messages"`
	LastSeq  uint64 `json:"last_seq"`
}

// ConsumerStats is the durable consumer; Exists is false when the invalidator never ran.
type ConsumerStats struct {
	Name        string `json:"name"`
	Exists      bool   `json:"exists"`
	Pending     uint64 `json:"pending"`
	AckPending  int    `json:"ack_pending"`
	Redelivered int    `json:"redelivered"`
}

// Stats is one "stats" frame.
type Stats struct {
	At string `json:"at"`
	NATSStats
	// NATSError is set when the numbers could not be read; the others are then zero.
	NATSError    string     `json:"nats_error,omitempty"`
	Cache        CacheStats `json:"cache"`
	EventsPerSec float64    `json:"events_per_sec"`
	EventsTotal  uint64     `json:"events_total"`
	Clients      int        `json:"clients"`
}

// Run sends a stats frame every Interval until ctx ends, then closes the open streams.
func (s *Server) Run(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	// The first frame has no interval behind it: its rate is 0.
	last, lastCount := time.Now(), uint64(0)
	for {
		now := time.Now()
		st := s.collect(ctx)
		if ctx.Err() != nil {
			return
		}
		if el := now.Sub(last).Seconds(); el >= s.cfg.Interval.Seconds()/2 {
			st.EventsPerSec = float64(st.EventsTotal-lastCount) / el
		}
		last, lastCount = now, st.EventsTotal
		f := frame("stats", 0, st)
		s.mu.Lock()
		s.lastStats = f
		s.mu.Unlock()
		s.hub.broadcast(f)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// collect reads NATS and the metrics; neither failing stops the view, it shows why instead.
func (s *Server) collect(ctx context.Context) Stats {
	st := Stats{At: time.Now().UTC().Format(time.RFC3339Nano), Clients: s.hub.count()}
	if s.cfg.NATS != nil {
		n, err := s.cfg.NATS(ctx)
		if err != nil {
			st.NATSError = err.Error()
		} else {
			st.NATSStats = n
		}
	}
	if s.scraper == nil {
		st.Cache = CacheStats{Reason: "no --query-metrics URL"}
	} else {
		c, err := s.scraper.scrape(ctx)
		st.Cache = s.ratio.update(c, err)
	}
	s.mu.Lock()
	st.EventsTotal = s.events
	s.mu.Unlock()
	return st
}
