package worker

import (
	"testing"
	"time"
)

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	t.Parallel()
	w := &Worker{cfg: Config{RetryMin: time.Second, RetryMax: 30 * time.Second}}
	for _, c := range []struct {
		n    uint64
		want time.Duration
	}{{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {5, 16 * time.Second},
		{6, 30 * time.Second}, {1000, 30 * time.Second}} {
		if got := w.backoff(c.n); got != c.want {
			t.Errorf("backoff(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

func TestTicketIDFromSubject(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ subject, want, token string }{
		{"tickets.changed.0193", "0193", "0193"},
		{"tickets.changed.a.b", "", "unknown"},
		{"other.0193", "", "unknown"},
		{"tickets.changed.", "", "unknown"},
	} {
		got := ticketIDOf(nil, c.subject, "tickets.changed")
		if got != c.want || dlqToken(got) != c.token {
			t.Errorf("%s: id %q token %q, want %q %q", c.subject, got, dlqToken(got), c.want, c.token)
		}
	}
}
