package worker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
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
# HELP cache_consumer_info_up 1 when the consumer and DLQ could be read from NATS at this scrape.
# TYPE cache_consumer_info_up gauge
cache_consumer_info_up 1
`), "cache_consumer_pending_messages", "cache_dlq_messages", "cache_consumer_info_up") == nil
	}, "lag gauges never showed 3 pending and an empty DLQ")
}
