package worker_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/worker"
)

// The lag gauges come from the server: events published while no worker
// runs show up as pending on the durable consumer.
func TestLagCollectorReportsPendingAndDLQ(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.start(h.config())
	testinfra.Eventually(t, 10*time.Second, func() bool { return r.w.Ready(t.Context()) == nil }, "worker never attached")
	r.stop(t) // the durable consumer stays; nobody pulls now

	for i := range 3 {
		h.publish(created(t, newTicket(t, "waiting "+string(rune('a'+i)))))
	}
	lag := r.w.LagCollector()
	testinfra.Eventually(t, 10*time.Second, func() bool {
		return testutil.CollectAndCompare(lag, strings.NewReader(`
# HELP cache_consumer_pending_messages Messages of the stream not yet delivered to the durable consumer.
# TYPE cache_consumer_pending_messages gauge
cache_consumer_pending_messages 3
# HELP cache_dlq_messages Messages in the dead-letter stream.
# TYPE cache_dlq_messages gauge
cache_dlq_messages 0
# HELP cache_consumer_info_up 1 when the consumer and DLQ could be read from NATS at the last reading (at most 2 s old).
# TYPE cache_consumer_info_up gauge
cache_consumer_info_up 1
`), "cache_consumer_pending_messages", "cache_dlq_messages", "cache_consumer_info_up") == nil
	}, "lag gauges never showed 3 pending and an empty DLQ")
}

// /metrics is public to whoever reaches the port: a flood of scrapes shares
// one reading of the consumer and the DLQ instead of making two JetStream
// API calls each.
func TestLagCollectorReadsOncePerInterval(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.start(h.config())
	testinfra.Eventually(t, 10*time.Second, func() bool { return r.w.Ready(t.Context()) == nil }, "worker never attached")
	nc, err := nats.Connect(h.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cfg := h.config()
	var calls atomic.Int64
	// Info requests only: the worker's own pull requests
	// ($JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>) go on meanwhile.
	sub, err := nc.Subscribe("$JS.API.>", func(m *nats.Msg) {
		if m.Subject == "$JS.API.CONSUMER.INFO."+cfg.Stream.Name+"."+cfg.Consumer || m.Subject == "$JS.API.STREAM.INFO."+cfg.DLQ.Name {
			calls.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	lag := r.w.LagCollector()
	start := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if n := testutil.CollectAndCount(lag); n != 5 {
					t.Errorf("a scrape gave %d series, want 5", n)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	_ = sub.Unsubscribe()
	_ = nc.Flush()
	readings := int64(elapsed/worker.LagMaxAge) + 1
	if got := calls.Load(); got == 0 || got > 2*readings {
		t.Fatalf("200 scrapes in %s made %d JetStream calls for the consumer and DLQ, want 2 per reading (%d readings at most)",
			elapsed, got, readings)
	}
}
