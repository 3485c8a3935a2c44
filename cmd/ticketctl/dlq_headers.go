package main

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// Headers of a dead-lettered message on stream TICKETS_DLQ (subject tickets.dlq.<ticket_id>).
// The cache-invalidator sets them when it gives up on a message; ticketctl reads them. They
// are the one agreement between the two, so they are named here, in one place. The body and
// every other header (CloudEvents ce-*, content-type, traceparent) are the original message's.
const (
	// HeaderDLQReason says why the invalidator gave up, in one line.
	HeaderDLQReason = "dlq-reason"
	// HeaderDLQOriginalSubject is the subject the message had on TICKETS; dlq replay
	// publishes there. Without it, replay derives <subject-prefix>.<ticket_id>.
	HeaderDLQOriginalSubject = "dlq-original-subject"
	// HeaderDLQOriginalSeq is the message's sequence on TICKETS.
	HeaderDLQOriginalSeq = "dlq-original-sequence"
	// HeaderDLQDeliveries is how often the invalidator received it before giving up.
	HeaderDLQDeliveries = "dlq-deliveries"

	// HeaderReplayOf marks a message that dlq replay published: <dlq stream>:<dlq seq>.
	HeaderReplayOf = "replay-of"
)

// isDLQHeader reports whether a header belongs to the dead-letter bookkeeping rather than to
// the original message. Liberal on purpose: "dlq-*" and "x-dlq*", in any case.
func isDLQHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "dlq-") || strings.HasPrefix(n, "x-dlq")
}

// dlqHeaders returns the dead-letter headers of h, first value each.
func dlqHeaders(h nats.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if isDLQHeader(k) && len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}
