package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// recordingCache records deletions and list bumps, and fails while down.
type recordingCache struct {
	invalidation.Cache
	mu      sync.Mutex
	down    bool
	deleted []string
	bumped  []string // statuses of the next states bumped
}

var errDown = errors.New("redis down")

func (c *recordingCache) DeleteTicket(_ context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errDown
	}
	c.deleted = append(c.deleted, id)
	return nil
}

func (c *recordingCache) InvalidateLists(_ context.Context, _, next *ticket.Ticket) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errDown
	}
	if next != nil {
		c.bumped = append(c.bumped, next.Status)
	}
	return nil
}

func (c *recordingCache) setDown(down bool) {
	c.mu.Lock()
	c.down = down
	c.mu.Unlock()
}

// A full queue does not grow: a new ticket is dropped (counted) and one
// broad list invalidation is remembered; duplicates are not queued twice.
func TestPurgeQueueIsBoundedAndFallsBackToBroad(t *testing.T) {
	t.Parallel()
	cache := &recordingCache{down: true}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := New(Config{PurgeQueue: 3, RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond},
		nil, invalidation.New(cache, 0, log), log, m)
	p := w.purger
	// Open tickets: any other status's lists are bumped only by the broad
	// invalidation.
	ev := func(id string) *eventsv1.TicketChanged {
		return &eventsv1.TicketChanged{EventId: "ev-" + id, TicketId: id, Ticket: &eventsv1.Ticket{Id: id, Status: ticket.StatusOpen}}
	}
	for _, id := range []string{"a", "b", "a", "c", "d", "e"} {
		p.add(id, ev(id))
	}
	if n := testutil.ToFloat64(m.PurgesPending); n != 4 {
		t.Fatalf("pending %v, want 3 tickets and the broad invalidation", n)
	}
	if n := testutil.ToFloat64(m.PurgesDropped); n != 2 {
		t.Fatalf("dropped %v, want 2 (d, e)", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.run(ctx)
	cache.setDown(false)
	testinfra.Eventually(t, 10*time.Second, func() bool { return testutil.ToFloat64(m.PurgesPending) == 0 },
		"the queue never emptied once the cache answered")
	p.stop()
	<-p.done
	cache.mu.Lock()
	defer cache.mu.Unlock()
	slices.Sort(cache.deleted)
	if !slices.Equal(cache.deleted, []string{"a", "b", "c"}) {
		t.Fatalf("deleted %v, want a, b, c once each", cache.deleted)
	}
	if !slices.Contains(cache.bumped, ticket.StatusClosed) {
		t.Fatalf("no broad list invalidation for the dropped tickets; bumped %v", cache.bumped)
	}
}
