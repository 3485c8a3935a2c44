package ticketevent

import "strings"

// Headers of a dead-lettered message on the DLQ stream (subject
// <dlq prefix>.<ticket_id>). The cache-invalidator sets them when it gives up
// on a message; ticketctl reads them to list and replay it. The body and
// every other header (ce-*, content-type, traceparent) are the original's.
const (
	HeaderDLQReason           = "dlq-reason" // DLQReasonUndecodable or DLQReasonExhausted
	HeaderDLQError            = "dlq-error"  // the last error, one line
	HeaderDLQOriginalSubject  = "dlq-original-subject"
	HeaderDLQOriginalStream   = "dlq-original-stream"
	HeaderDLQOriginalSequence = "dlq-original-sequence"
	HeaderDLQDeliveries       = "dlq-deliveries"
	HeaderDLQConsumer         = "dlq-consumer"
	HeaderDLQTime             = "dlq-time"
	// HeaderReplayOf marks a message `ticketctl dlq replay` published:
	// <dlq stream>:<dlq seq>.
	HeaderReplayOf = "replay-of"
)

// Why a message was dead-lettered.
const (
	DLQReasonUndecodable = "undecodable" // no delivery can ever succeed
	DLQReasonExhausted   = "exhausted"   // failed on its last delivery
)

// IsDLQHeader reports whether a header belongs to the dead-letter
// bookkeeping rather than to the original message; a replay drops these.
// Liberal on purpose: "dlq-*" and "x-dlq*", in any case.
func IsDLQHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "dlq-") || strings.HasPrefix(n, "x-dlq")
}
