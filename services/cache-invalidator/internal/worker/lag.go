package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// LagMaxAge is how long one reading of the consumer and the DLQ serves
// scrapes: /metrics is unauthenticated, and each reading costs two JetStream
// API calls, so a flood of scrapes must not become a flood of those.
const LagMaxAge = 2 * time.Second

// lagCollector reports how far the durable consumer is behind and how many
// events wait in the dead-letter stream. Reading them from the server (not
// counting locally) makes every instance report the same shared truth, and
// a stuck consumer (MaxAckPending reached, no deliveries, no errors) shows
// up as pending that does not fall.
type lagCollector struct {
	w                                *Worker
	pending, ackPending, redelivered *prometheus.Desc
	dlq, up                          *prometheus.Desc

	mu   sync.Mutex // one reading at a time; concurrent scrapes share it
	at   time.Time
	last lagSample
}

type lagSample struct {
	pending, ackPending, redelivered float64
	consumerOK                       bool
	dlq                              float64
	dlqOK                            bool
}

// LagCollector returns the worker's consumer and DLQ gauges.
func (w *Worker) LagCollector() prometheus.Collector {
	return &lagCollector{
		w: w,
		pending: prometheus.NewDesc("cache_consumer_pending_messages",
			"Messages of the stream not yet delivered to the durable consumer.", nil, nil),
		ackPending: prometheus.NewDesc("cache_consumer_ack_pending_messages",
			"Messages delivered to the durable consumer and not yet acknowledged.", nil, nil),
		redelivered: prometheus.NewDesc("cache_consumer_redelivered_messages",
			"Messages currently being redelivered to the durable consumer.", nil, nil),
		dlq: prometheus.NewDesc("cache_dlq_messages",
			"Messages in the dead-letter stream.", nil, nil),
		up: prometheus.NewDesc("cache_consumer_info_up",
			"1 when the consumer and DLQ could be read from NATS at the last reading (at most 2 s old).", nil, nil),
	}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.ackPending, c.redelivered, c.dlq, c.up} {
		ch <- d
	}
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.sample()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	if s.consumerOK {
		gauge(c.pending, s.pending)
		gauge(c.ackPending, s.ackPending)
		gauge(c.redelivered, s.redelivered)
	}
	if s.dlqOK {
		gauge(c.dlq, s.dlq)
	}
	up := 0.0
	if s.consumerOK && s.dlqOK {
		up = 1
	}
	gauge(c.up, up)
}

// sample is the last reading when it is fresh, else a new one: the infos
// that looking the consumer and the stream up return, one call each.
func (c *lagCollector) sample() lagSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < LagMaxAge {
		return c.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var s lagSample
	cfg := c.w.cfg
	if cons, err := c.w.js.Consumer(ctx, cfg.Stream.Name, cfg.Consumer); err == nil {
		info := cons.CachedInfo()
		s.pending, s.ackPending, s.redelivered = float64(info.NumPending), float64(info.NumAckPending), float64(info.NumRedelivered)
		s.consumerOK = true
	}
	if st, err := c.w.js.Stream(ctx, cfg.DLQ.Name); err == nil {
		s.dlq, s.dlqOK = float64(st.CachedInfo().State.Msgs), true
	} else if errors.Is(err, jetstream.ErrStreamNotFound) {
		s.dlqOK = true
	}
	c.last, c.at = s, time.Now()
	return s
}
