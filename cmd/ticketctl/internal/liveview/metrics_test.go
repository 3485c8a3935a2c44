package liveview

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// exposition is what the query service's /metrics shows, trimmed to a few families.
const exposition = `# HELP ticketsys_cache_requests_total Reads by kind (ticket, list) and cache result (hit, miss, bypass).
# TYPE ticketsys_cache_requests_total counter
ticketsys_cache_requests_total{kind="list",result="hit"} 30
ticketsys_cache_requests_total{kind="list",result="miss"} 10
ticketsys_cache_requests_total{kind="ticket",result="bypass"} 2
ticketsys_cache_requests_total{kind="ticket",result="hit"} 60
ticketsys_cache_requests_total{kind="ticket",result="miss"} 18
# HELP ticketsys_cache_loads_total Postgres reads made to fill the cache.
# TYPE ticketsys_cache_loads_total counter
ticketsys_cache_loads_total{kind="ticket"} 17
# HELP ticketsys_http_requests_total Requests.
# TYPE ticketsys_http_requests_total counter
ticketsys_http_requests_total{method="GET",route="/tickets/:id",status="200"} 80
`

func TestParseCacheCounts(t *testing.T) {
	t.Parallel()
	c, err := parseCacheCounts(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if want := (cacheCounts{hit: 90, miss: 28, bypass: 2}); c != want {
		t.Errorf("counts %+v, want %+v: summed over kind", c, want)
	}
	if got := c.total(); got != 120 {
		t.Errorf("total %v, want 120", got)
	}

	_, err = parseCacheCounts(strings.NewReader("# TYPE up gauge\nup 1\n"))
	if !errors.Is(err, errNoCacheSeries) {
		t.Fatalf("a target that is not the query service: got %v, want %v", err, errNoCacheSeries)
	}

	_, err = parseCacheCounts(strings.NewReader("ticketsys_cache_requests_total{result=\"hit\" 3\n"))
	if err == nil {
		t.Fatal("a broken exposition parsed without an error")
	}
	if !strings.Contains(err.Error(), "parse metrics") {
		t.Errorf("error %q lacks %q", err, "parse metrics")
	}
}

// near says whether got is within 1e-9 of want: ratios are computed in floating point.
func near(got, want float64) bool { return math.Abs(got-want) <= 1e-9 }

func TestHitRatioOverIntervalAndOverall(t *testing.T) {
	t.Parallel()
	var h hitRatio

	s := h.update(cacheCounts{}, nil)
	if s.Overall != nil || s.Interval != nil {
		t.Errorf("no reads: overall %v, interval %v, want neither", s.Overall, s.Interval)
	}
	if want := "no reads yet"; s.Reason != want {
		t.Errorf("reason %q, want %q", s.Reason, want)
	}

	s = h.update(cacheCounts{hit: 90, miss: 28, bypass: 2}, nil)
	if s.Overall == nil {
		t.Fatal("no overall ratio after 120 reads")
	}
	if !near(*s.Overall, 0.75) {
		t.Errorf("overall %v, want 0.75", *s.Overall)
	}
	if s.Interval == nil {
		t.Fatal("no interval ratio: the first interval is the whole history since the previous scrape")
	}
	if !near(*s.Interval, 0.75) {
		t.Errorf("interval %v, want 0.75", *s.Interval)
	}
	if s.Reason != "" {
		t.Errorf("reason %q, want none", s.Reason)
	}

	s = h.update(cacheCounts{hit: 99, miss: 29, bypass: 2}, nil) // +9 hits, +1 miss
	if s.Interval == nil {
		t.Fatal("no interval ratio after 10 more reads")
	}
	if !near(*s.Interval, 0.9) {
		t.Errorf("interval %v, want 0.9", *s.Interval)
	}
	if s.IntervalReads != 10 {
		t.Errorf("interval reads %v, want 10", s.IntervalReads)
	}
	if !near(*s.Overall, 99.0/130) {
		t.Errorf("overall %v, want %v", *s.Overall, 99.0/130)
	}

	s = h.update(cacheCounts{hit: 99, miss: 29, bypass: 2}, nil)
	if s.Interval != nil {
		t.Errorf("interval %v, want none: no reads in the interval is n/a, not 0%%", *s.Interval)
	}
	if s.Overall == nil {
		t.Error("no overall ratio, want the one since the start")
	}

	s = h.update(cacheCounts{hit: 3, miss: 1}, nil)
	if s.Interval == nil {
		t.Fatal("no interval ratio after the counters went down (the query service restarted)")
	}
	if !near(*s.Interval, 0.75) {
		t.Errorf("interval after a restart %v, want 0.75", *s.Interval)
	}

	s = h.update(cacheCounts{}, errNoCacheSeries)
	if s.Interval != nil || s.Overall != nil {
		t.Errorf("failed scrape: interval %v, overall %v, want neither", s.Interval, s.Overall)
	}
	if want := errNoCacheSeries.Error(); s.Reason != want {
		t.Errorf("reason %q, want %q", s.Reason, want)
	}
	s = h.update(cacheCounts{hit: 10, miss: 1}, nil)
	if s.Interval != nil {
		t.Errorf("interval %v, want none: after a failed scrape a new interval begins", *s.Interval)
	}
}

func TestScraper(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); !strings.Contains(got, "text/plain") {
			t.Errorf("Accept %q, want text/plain in it", got)
		}
		_, _ = w.Write([]byte(exposition))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	c, err := (&scraper{url: ts.URL + "/metrics", client: ts.Client()}).scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.hit != 90 {
		t.Errorf("hits %v, want 90", c.hit)
	}

	_, err = (&scraper{url: ts.URL + "/nope", client: ts.Client()}).scrape(context.Background())
	if err == nil {
		t.Fatal("a 404 scraped without an error")
	}
	if !strings.Contains(err.Error(), "answered 404") {
		t.Errorf("error %q lacks %q", err, "answered 404")
	}

	ts2 := httptest.NewServer(mux)
	ts2.Close()
	_, err = (&scraper{url: ts2.URL + "/metrics", client: ts.Client()}).scrape(context.Background())
	if err == nil {
		t.Fatal("a closed server scraped without an error")
	}
	if !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("error %q lacks %q", err, "unreachable")
	}
}
