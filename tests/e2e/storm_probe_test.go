package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// pid is the operating system's id of the running binary.
func (p *process) pid() int { return p.Pid() }

// memory is what /proc says about a process: resident set now and its peak.
type memory struct{ rss, peak int64 }

func (p *process) memory() (memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.peak
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("%s: %w", line, err)
		}
		*dst = kb << 10
	}
	if m.rss == 0 {
		return memory{}, fmt.Errorf("no VmRSS in /proc/%d/status", p.pid())
	}
	return m, nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// scrape is one read of a process's /metrics.
type scrape struct {
	series   map[string]bool // each sample line without its value
	families map[string]*dto.MetricFamily
}

func scrapeMetrics(client *http.Client, p *process) (scrape, error) {
	res, err := client.Get(p.url + "/metrics")
	if err != nil {
		return scrape{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return scrape{}, err
	}
	if res.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	sc := scrape{series: map[string]bool{}}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The value follows the last space; label values may hold spaces.
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			line = line[:i]
		}
		sc.series[line] = true
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if sc.families, err = parser.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
		return scrape{}, fmt.Errorf("parse /metrics: %w", err)
	}
	return sc, nil
}

// gauge is the value of an unlabelled gauge or untyped sample, or -1.
func (sc scrape) gauge(name string) float64 {
	f := sc.families[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return -1
	}
	m := f.GetMetric()[0]
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	}
	return -1
}

// The label values ticketsys_http_requests_total and ticketsys_http_request_duration_seconds
// may take: methods are a closed set, routes are the registered templates or
// "unmatched", statuses are three digits.
var (
	metricMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true,
		"DELETE": true, "OPTIONS": true, "OTHER": true}
	metricRoutes = map[string]bool{"/tickets": true, "/tickets/:id": true, "/healthz": true, "/readyz": true,
		"/metrics": true, "/redis-health": true, "/openapi.yaml": true, "unmatched": true}
	metricStatus = regexp.MustCompile(`^[1-5][0-9][0-9]$`)
)

// labelProblems lists every label value that an attacker chose or that a
// bounded label should never hold.
func (sc scrape) labelProblems() []string {
	var out []string
	for name, f := range sc.families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				switch {
				case strings.Contains(strings.ToLower(v), stormMark):
					out = append(out, fmt.Sprintf("%s{%s=%.80q}: a value the storm sent", name, l.GetName(), v))
				case len(v) > 128:
					out = append(out, fmt.Sprintf("%s{%s=%.80q...}: %d bytes", name, l.GetName(), v, len(v)))
				}
				if name != "ticketsys_http_requests_total" && name != "ticketsys_http_request_duration_seconds" {
					continue
				}
				switch l.GetName() {
				case "method":
					if !metricMethods[v] {
						out = append(out, fmt.Sprintf("%s{method=%.80q}: not in the closed set", name, v))
					}
				case "route":
					if !metricRoutes[v] {
						out = append(out, fmt.Sprintf("%s{route=%.80q}: not a route template", name, v))
					}
				case "status":
					if !metricStatus.MatchString(v) {
						out = append(out, fmt.Sprintf("%s{status=%.80q}: not a status code", name, v))
					}
				}
			}
		}
	}
	return out
}

// newSeries are the series in after that before did not have.
func newSeries(before, after scrape) []string {
	var out []string
	for s := range after.series {
		if !before.series[s] {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// readyz is the status of a process's /readyz, or the error.
func readyz(client *http.Client, p *process) (int, error) {
	res, err := client.Get(p.url + "/readyz")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}
