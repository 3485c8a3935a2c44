// Package poolmetrics exposes connection-pool statistics of pgx and go-redis
// as Prometheus metrics, read at scrape time so they cost nothing between
// scrapes.
package poolmetrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

type pgCollector struct {
	pool   *pgxpool.Pool
	labels prometheus.Labels
	descs  map[string]*prometheus.Desc
}

// NewPgx returns a collector for a pgx pool; name labels it (e.g. "primary",
// "replica") so one process can report several pools.
func NewPgx(pool *pgxpool.Pool, name string) prometheus.Collector {
	c := &pgCollector{pool: pool, labels: prometheus.Labels{"pool": name}, descs: map[string]*prometheus.Desc{}}
	for key, help := range map[string]string{
		"pgx_pool_total_conns":                    "Connections open (idle, acquired and being built).",
		"pgx_pool_idle_conns":                     "Connections idle in the pool.",
		"pgx_pool_acquired_conns":                 "Connections in use.",
		"pgx_pool_max_conns":                      "Maximum pool size.",
		"pgx_pool_acquires_total":                 "Connections acquired from the pool.",
		"pgx_pool_empty_acquires_total":           "Acquires that had to wait for a connection.",
		"pgx_pool_canceled_acquires_total":        "Acquires canceled by their context.",
		"pgx_pool_acquire_duration_seconds_total": "Total time spent acquiring connections.",
		"pgx_pool_new_conns_total":                "Connections opened.",
		"pgx_pool_max_lifetime_closes_total":      "Connections closed for reaching their maximum lifetime.",
		"pgx_pool_max_idle_time_closes_total":     "Connections closed for idling too long.",
	} {
		c.descs[key] = prometheus.NewDesc(key, help, nil, c.labels)
	}
	return c
}

func (c *pgCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *pgCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	gauge := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, v) }
	counter := func(k string, v float64) { ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.CounterValue, v) }
	gauge("pgx_pool_total_conns", float64(s.TotalConns()))
	gauge("pgx_pool_idle_conns", float64(s.IdleConns()))
	gauge("pgx_pool_acquired_conns", float64(s.AcquiredConns()))
	gauge("pgx_pool_max_conns", float64(s.MaxConns()))
	counter("pgx_pool_acquires_total", float64(s.AcquireCount()))
	counter("pgx_pool_empty_acquires_total", float64(s.EmptyAcquireCount()))
	counter("pgx_pool_canceled_acquires_total", float64(s.CanceledAcquireCount()))
	counter("pgx_pool_acquire_duration_seconds_total", s.AcquireDuration().Seconds())
	counter("pgx_pool_new_conns_total", float64(s.NewConnsCount()))
	counter("pgx_pool_max_lifetime_closes_total", float64(s.MaxLifetimeDestroyCount()))
	counter("pgx_pool_max_idle_time_closes_total", float64(s.MaxIdleDestroyCount()))
}

type redisCollector struct {
	rdb   redis.UniversalClient
	descs map[string]*prometheus.Desc
}

// NewRedis returns a collector for a go-redis client's pool (summed over the
// nodes of a Cluster client).
func NewRedis(rdb redis.UniversalClient) prometheus.Collector {
	c := &redisCollector{rdb: rdb, descs: map[string]*prometheus.Desc{}}
	for key, help := range map[string]string{
		"redis_pool_hits_total":        "Times a free connection was found in the pool.",
		"redis_pool_misses_total":      "Times a new connection had to be made.",
		"redis_pool_timeouts_total":    "Times waiting for a connection timed out.",
		"redis_pool_total_conns":       "Connections open.",
		"redis_pool_idle_conns":        "Connections idle.",
		"redis_pool_stale_conns_total": "Stale connections removed from the pool.",
	} {
		c.descs[key] = prometheus.NewDesc(key, help, nil, nil)
	}
	return c
}

func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.rdb.PoolStats()
	if s == nil {
		return
	}
	gauge := func(k string, v uint32) {
		ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, float64(v))
	}
	counter := func(k string, v uint32) {
		ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.CounterValue, float64(v))
	}
	counter("redis_pool_hits_total", s.Hits)
	counter("redis_pool_misses_total", s.Misses)
	counter("redis_pool_timeouts_total", s.Timeouts)
	gauge("redis_pool_total_conns", s.TotalConns)
	gauge("redis_pool_idle_conns", s.IdleConns)
	counter("redis_pool_stale_conns_total", s.StaleConns)
}
