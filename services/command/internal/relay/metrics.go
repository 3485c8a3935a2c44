package relay

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the relay's Prometheus series.
type Metrics struct {
	Leader         prometheus.Gauge
	Backlog        prometheus.Gauge
	OldestAge      prometheus.Gauge
	Published      *prometheus.CounterVec
	PublishSeconds prometheus.Histogram
}

// NewMetrics registers the relay's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_relay_active",
			Help: "1 while this instance holds the relay lock and publishes the outbox.",
		}),
		Backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_backlog_rows",
			Help: "Outbox rows not yet acknowledged by JetStream.",
		}),
		OldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_unsent_age_seconds",
			Help: "Age of the oldest outbox row not yet acknowledged (0 when none).",
		}),
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outbox_published_total",
			Help: "Outbox rows published, by outcome (ok, duplicate, error).",
		}, []string{"outcome"}),
		PublishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "outbox_publish_batch_duration_seconds",
			Help:    "Time from a batch's first publish to its last acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	reg.MustRegister(m.Leader, m.Backlog, m.OldestAge, m.Published, m.PublishSeconds)
	for _, o := range []string{"ok", "duplicate", "error"} {
		m.Published.WithLabelValues(o)
	}
	return m
}
