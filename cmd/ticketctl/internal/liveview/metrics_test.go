package liveview

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exposition is what the query service's /metrics shows, trimmed to a few families.
const exposition = `# HELP cache_requests_total Reads by kind (ticket, list) and cache result (hit, miss, bypass).
# TYPE cache_requests_total counter
cache_requests_total{kind="list",result="hit"} 30
cache_requests_total{kind="list",result="miss"} 10
cache_requests_total{kind="ticket",result="bypass"} 2
cache_requests_total{kind="ticket",result="hit"} 60
cache_requests_total{kind="ticket",result="miss"} 18
# HELP cache_loads_total Postgres reads made to fill the cache.
# TYPE cache_loads_total counter
cache_loads_total{kind="ticket"} 17
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/tickets/:id",status="200"} 80
`

func TestParseCacheCounts(t *testing.T) {
	t.Parallel()
	c, err := parseCacheCounts(strings.NewReader(exposition))
	require.NoError(t, err)
	assert.Equal(t, cacheCounts{hit: 90, miss: 28, bypass: 2}, c, "summed over kind")
	assert.InDelta(t, 120, c.total(), 0)

	_, err = parseCacheCounts(strings.NewReader("# TYPE up gauge\nup 1\n"))
	require.ErrorIs(t, err, errNoCacheSeries, "a target that is not the query service")

	_, err = parseCacheCounts(strings.NewReader("cache_requests_total{result=\"hit\" 3\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parse metrics")
}

func TestHitRatioOverIntervalAndOverall(t *testing.T) {
	t.Parallel()
	var h hitRatio

	s := h.update(cacheCounts{}, nil)
	assert.Nil(t, s.Overall)
	assert.Nil(t, s.Interval)
	assert.Equal(t, "no reads yet", s.Reason)

	s = h.update(cacheCounts{hit: 90, miss: 28, bypass: 2}, nil)
	require.NotNil(t, s.Overall)
	assert.InDelta(t, 0.75, *s.Overall, 1e-9)
	require.NotNil(t, s.Interval, "the first interval is the whole history since the previous scrape")
	assert.InDelta(t, 0.75, *s.Interval, 1e-9)
	assert.Empty(t, s.Reason)

	s = h.update(cacheCounts{hit: 99, miss: 29, bypass: 2}, nil) // +9 hits, +1 miss
	require.NotNil(t, s.Interval)
	assert.InDelta(t, 0.9, *s.Interval, 1e-9)
	assert.InDelta(t, 10, s.IntervalReads, 0)
	assert.InDelta(t, 99.0/130, *s.Overall, 1e-9)

	s = h.update(cacheCounts{hit: 99, miss: 29, bypass: 2}, nil)
	assert.Nil(t, s.Interval, "no reads in the interval: n/a, not 0%")
	assert.NotNil(t, s.Overall)

	s = h.update(cacheCounts{hit: 3, miss: 1}, nil)
	require.NotNil(t, s.Interval, "counters went down: the query service restarted")
	assert.InDelta(t, 0.75, *s.Interval, 1e-9)

	s = h.update(cacheCounts{}, errNoCacheSeries)
	assert.Nil(t, s.Interval)
	assert.Nil(t, s.Overall)
	assert.Equal(t, errNoCacheSeries.Error(), s.Reason)
	s = h.update(cacheCounts{hit: 10, miss: 1}, nil)
	assert.Nil(t, s.Interval, "after a failed scrape a new interval begins")
}

func TestScraper(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		assert.Contains(t, r.Header.Get("Accept"), "text/plain")
		_, _ = w.Write([]byte(exposition))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	c, err := (&scraper{url: ts.URL + "/metrics", client: ts.Client()}).scrape(context.Background())
	require.NoError(t, err)
	assert.InDelta(t, 90, c.hit, 0)

	_, err = (&scraper{url: ts.URL + "/nope", client: ts.Client()}).scrape(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "answered 404")

	ts2 := httptest.NewServer(mux)
	ts2.Close()
	_, err = (&scraper{url: ts2.URL + "/metrics", client: ts.Client()}).scrape(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unreachable")
}
