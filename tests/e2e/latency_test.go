package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"
)

// measureWriteToFresh does n sequential PUTs on one ticket and returns, for
// each, the time from the PUT's response to the moment ticket:{id} in Redis
// holds the version the PUT made. It fails the test if a write never
// becomes fresh; it never asserts on the durations.
func measureWriteToFresh(tb testing.TB, s *stack, n int) []time.Duration {
	tb.Helper()
	tk := s.create(`{"title":"latency probe"}`)
	s.settle()
	out := make([]time.Duration, 0, n)
	for i := range n {
		r := s.write(http.MethodPut, "/tickets/"+tk.ID, fmt.Sprintf(`{"title":"latency probe %d"}`, i))
		mustStatus(tb, r, http.StatusOK)
		want := r.ticket(tb).Version
		if d, ok := waitFresh(s, tk.ID, want, 10*time.Second); ok {
			out = append(out, d)
			continue
		}
		tb.Fatalf("write %d (version %d) never became fresh in Redis", i, want)
	}
	return out
}

// waitFresh polls ticket:{id} tightly until it holds version v or newer;
// it starts right after the PUT's response has been read.
func waitFresh(s *stack, id string, v int64, timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	ctx := context.Background()
	for time.Since(start) < timeout {
		if e, found, err := s.cache.GetTicket(ctx, id); err == nil && found && e.Version >= v {
			return time.Since(start), true
		}
		time.Sleep(100 * time.Microsecond) // the polling resolution
	}
	return 0, false
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TestWriteToFreshLatency measures, for 200 sequential PUTs, the time from
// the PUT's response to the cache holding the new version, and logs the
// median and 99th percentile:
//
//	go test -count=1 -run TestWriteToFreshLatency -v ./tests/e2e
//
// It asserts only that every write became fresh.
func TestWriteToFreshLatency(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ds := measureWriteToFresh(t, s, 200)
	slices.Sort(ds)
	t.Logf("write-to-fresh over %d PUTs: median %v, p99 %v, max %v",
		len(ds), quantile(ds, 0.5), quantile(ds, 0.99), ds[len(ds)-1])
}
