package worker

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the worker's Prometheus series.
type Metrics struct {
	Processed     *prometheus.CounterVec // change, outcome
	Duration      *prometheus.HistogramVec
	Fresh         prometheus.Histogram
	Redeliveries  prometheus.Counter
	DeadLettered  *prometheus.CounterVec // reason
	PurgesPending prometheus.Gauge
	Held          prometheus.Gauge // deliveries waiting for Redis to answer
	PurgesDropped prometheus.Counter
	Panics        prometheus.Counter
	// HeartbeatsMissed counts pull requests found lost; RedisLosses the
	// times Redis lost data; Replayed the events applied again after.
	HeartbeatsMissed prometheus.Counter
	RedisLosses      prometheus.Counter
	Replayed         prometheus.Counter
}

// NewMetrics registers the worker's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_events_processed_total",
			Help: "Event deliveries handled, by change (created, updated, deleted, unknown) and outcome " +
				"(applied, superseded, retried, dead_lettered).",
		}, []string{"change", "outcome"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cache_event_processing_seconds",
			Help:    "Time to handle one delivery, from its arrival to its ack or nak, by outcome.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"outcome"}),
		Fresh: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cache_write_to_fresh_seconds",
			Help: "Time from an event's occurred_at to the cache holding its version " +
				"(commit, outbox relay, delivery and the Redis write).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		Redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_event_redeliveries_total",
			Help: "Deliveries that were not the first of their message.",
		}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_events_dead_lettered_total",
			Help: "Events copied to the dead-letter stream, by reason (undecodable, exhausted).",
		}, []string{"reason"}),
		PurgesPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_dlq_purges_pending",
			Help: "Dead-lettered events whose keys are still waiting to be deleted (Redis unreachable).",
		}),
		Held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cache_events_held",
			Help: "Deliveries held (kept in progress) because Redis does not answer; they are applied when it does.",
		}),
		PurgesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_dlq_purges_dropped_total",
			Help: "Dead-lettered tickets whose key was not queued for deletion because the queue was full " +
				"(it expires by TTL; lists are invalidated broadly instead).",
		}),
		Panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_event_panics_total",
			Help: "Panics recovered while handling a delivery or purging keys; the delivery is retried like a failure.",
		}),
		HeartbeatsMissed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_consumer_heartbeats_missed_total",
			Help: "Pull requests given up for lost after two missed heartbeats (a consumer leader change); each is pulled again at once.",
		}),
		RedisLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_redis_data_losses_total",
			Help: "Times Redis was found to have lost data (canary gone, restart, failover); each starts a replay.",
		}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cache_events_replayed_total",
			Help: "Events applied again after a Redis data loss.",
		}),
	}
	for _, c := range []prometheus.Collector{m.Processed, m.Duration, m.Fresh, m.Redeliveries, m.DeadLettered, m.PurgesPending,
		m.Held, m.PurgesDropped, m.Panics, m.HeartbeatsMissed, m.RedisLosses, m.Replayed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register worker metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) observe(change, outcome string, start time.Time) {
	m.Processed.WithLabelValues(change, outcome).Inc()
	m.Duration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}
