package liveview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// cacheSeries is the query service's counter of reads by kind and cache result.
const cacheSeries = "ticketsys_cache_requests_total"

// maxScrape bounds what is read from the metrics endpoint: a wrong URL must not fill memory.
const maxScrape = 8 << 20

var errNoCacheSeries = errors.New(cacheSeries + " not exposed")

// cacheCounts are the ticketsys_cache_requests_total counters, summed over kind.
type cacheCounts struct {
	hit, miss, bypass float64
}

func (c cacheCounts) total() float64 { return c.hit + c.miss + c.bypass }

// parseCacheCounts reads a Prometheus text exposition and sums ticketsys_cache_requests_total by
// result. errNoCacheSeries means the target answered but is not the query service (or it
// has served no reads yet: client_golang shows a labelled counter only once it was used).
func parseCacheCounts(r io.Reader) (cacheCounts, error) {
	var c cacheCounts
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return c, fmt.Errorf("parse metrics: %w", err)
	}
	mf, ok := families[cacheSeries]
	if !ok || len(mf.GetMetric()) == 0 {
		return c, errNoCacheSeries
	}
	for _, m := range mf.GetMetric() {
		v := m.GetCounter().GetValue()
		if m.GetCounter() == nil {
			v = m.GetUntyped().GetValue() // an exporter that lost the TYPE line
		}
		for _, l := range m.GetLabel() {
			if l.GetName() != "result" {
				continue
			}
			switch l.GetValue() {
			case "hit":
				c.hit += v
			case "miss":
				c.miss += v
			case "bypass":
				c.bypass += v
			}
		}
	}
	return c, nil
}

// scraper reads the query service's /metrics.
type scraper struct {
	url    string
	client *http.Client
}

func (s *scraper) scrape(ctx context.Context) (cacheCounts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return cacheCounts{}, err
	}
	// The text format is what the parser reads; ask for it rather than protobuf or OpenMetrics.
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := s.client.Do(req)
	if err != nil {
		return cacheCounts{}, fmt.Errorf("unreachable: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return cacheCounts{}, fmt.Errorf("answered %s", resp.Status)
	}
	return parseCacheCounts(io.LimitReader(resp.Body, maxScrape))
}

// CacheStats is the hit ratio as the page shows it. A nil ratio is shown as "n/a".
type CacheStats struct {
	// Reason says why there is no ratio: metrics unreachable, series absent, no reads yet.
	Reason string `json:"reason,omitempty"`
	// Interval is hits/reads since the previous scrape; nil when there were no reads.
	Interval      *float64 `json:"interval_ratio"`
	IntervalReads float64  `json:"interval_reads"`
	// Overall is hits/reads since the query service started.
	Overall  *float64 `json:"overall_ratio"`
	Hits     float64  `json:"hits"`
	Misses   float64  `json:"misses"`
	Bypasses float64  `json:"bypasses"`
}

// hitRatio turns successive scrapes into ratios over the last interval and overall.
type hitRatio struct {
	prev cacheCounts
	have bool
}

// update takes the latest scrape, or the error that prevented one.
func (h *hitRatio) update(c cacheCounts, err error) CacheStats {
	if err != nil {
		h.have = false // the next good scrape starts a new interval
		return CacheStats{Reason: err.Error()}
	}
	s := CacheStats{Hits: c.hit, Misses: c.miss, Bypasses: c.bypass, Overall: ratio(c.hit, c.total())}
	if s.Overall == nil {
		s.Reason = "no reads yet"
	}
	if h.have {
		d := cacheCounts{hit: c.hit - h.prev.hit, miss: c.miss - h.prev.miss, bypass: c.bypass - h.prev.bypass}
		if d.hit < 0 || d.miss < 0 || d.bypass < 0 {
			d = c // the query service restarted and its counters began again at zero
		}
		s.IntervalReads = d.total()
		s.Interval = ratio(d.hit, d.total())
	}
	h.prev, h.have = c, true
	return s
}

func ratio(hits, total float64) *float64 {
	if total <= 0 {
		return nil
	}
	r := hits / total
	return &r
}
