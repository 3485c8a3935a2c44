package worker

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// lagCollector reports, at scrape time, how far the durable consumer is
// behind and how many events wait in the dead-letter stream. Reading them
// from the server (not counting locally) makes every instance report the
// same shared truth, and a stuck consumer (MaxAckPending reached, no
// deliveries, no errors) shows up as pending that does not fall.
type lagCollector struct {
	w                                *Worker
	pending, ackPending, redelivered *prometheus.Desc
	dlq, up                          *prometheus.Desc
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
			"1 when the consumer and DLQ could be read from NATS at this scrape.", nil, nil),
	}
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.pending, c.ackPending, c.redelivered, c.dlq, c.up} {
		ch <- d
	}
}

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	up := 1.0
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }

	cfg := c.w.cfg
	if cons, err := c.w.js.Consumer(ctx, cfg.Stream.Name, cfg.Consumer); err == nil {
		if info, err := cons.Info(ctx); err == nil {
			gauge(c.pending, float64(info.NumPending))
			gauge(c.ackPending, float64(info.NumAckPending))
			gauge(c.redelivered, float64(info.NumRedelivered))
		} else {
			up = 0
		}
	} else {
		up = 0
	}
	if st, err := c.w.js.Stream(ctx, cfg.DLQ.Name); err == nil {
		if info, err := st.Info(ctx); err == nil {
			gauge(c.dlq, float64(info.State.Msgs))
		} else {
			up = 0
		}
	} else if errors.Is(err, jetstream.ErrStreamNotFound) {
		gauge(c.dlq, 0)
	} else {
		up = 0
	}
	gauge(c.up, up)
}
