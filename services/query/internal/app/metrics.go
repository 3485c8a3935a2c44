package app

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the cache did for reads.
type Metrics struct {
	requests     *prometheus.CounterVec
	staleRefused *prometheus.CounterVec
	loads        *prometheus.CounterVec
}

// NewMetrics registers the cache metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_requests_total",
			Help: "Reads by kind (ticket, list) and cache result (hit, miss, bypass).",
		}, []string{"kind", "result"}),
		staleRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_stale_writes_refused_total",
			Help: "Cache fills refused by the version fence because a newer state was already cached.",
		}, []string{"kind"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cache_loads_total",
			Help: "Postgres reads made to fill the cache, after singleflight merged concurrent misses.",
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.staleRefused, m.loads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register cache metrics: %w", err)
		}
	}
	return m, nil
}

func resultLabel(s Source) string { return strings.ToLower(string(s)) }
