package httpx

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the HTTP metrics shared by every service.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers http_requests_total and http_request_duration_seconds on reg (a
// registerer that prefixes them, see NewRegistry). It returns
// an error instead of panicking so that a double registration is reported at start like any
// other configuration problem.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests answered, by method, route template and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its handler, by method and route template.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	return m, nil
}

// Middleware observes every request, unmatched ones under the route "unmatched".
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route, method := routeOf(c), methodOf(c.Request.Method)
		m.requests.WithLabelValues(method, route, strconv.Itoa(c.Writer.Status())).Inc()
		m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	}
}

// MetricPrefix begins the name of every metric the application itself
// defines (ticketsys_http_requests_total, ticketsys_outbox_backlog_rows, …);
// the standard Go runtime, process and build-info collectors keep their
// standard names (go_*, process_*, go_build_info).
const MetricPrefix = "ticketsys_"

// NewRegistry returns a registry with the Go runtime, process and Go
// build-info collectors, which every service wants next to its own metrics,
// and app, a registerer on it that begins every name with MetricPrefix: the
// service registers its own metrics on app, so their names in the source lack
// the prefix. The global default registry is avoided so tests stay isolated.
func NewRegistry() (reg *prometheus.Registry, app prometheus.Registerer) {
	reg = prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	return reg, prometheus.WrapRegistererWithPrefix(MetricPrefix, reg)
}

// MetricsHandler serves g in the Prometheus text format, for GET /metrics.
func MetricsHandler(g prometheus.Gatherer) gin.HandlerFunc {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return gin.WrapH(http.Handler(h))
}

// methodOf is the method as a label value from a closed set: any method is
// a valid token to net/http, and a label per made-up method would grow
// /metrics without bound.
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
