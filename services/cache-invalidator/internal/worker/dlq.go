package worker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// deadLetter copies msg to the DLQ, queues its keys for deletion (the next
// read refills them from Postgres), and acks the original; it returns the
// delivery's outcome. If the DLQ cannot be written and deliveries remain,
// the original is handed back instead, so it is not lost before it is parked.
func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata,
	ev *eventsv1.TicketChanged, reason string, cause error,
) (outcome string) {
	id := ticketIDOf(ev, msg.Subject(), w.cfg.Stream.SubjectPrefix)
	w.log.Error("dead-lettering event", "reason", reason, "ticket_id", id, "subject", msg.Subject(),
		"seq", md.Sequence.Stream, "delivery", md.NumDelivered, "error", cause)

	out := nats.NewMsg(w.cfg.DLQ.Subject(dlqToken(id)))
	out.Data = msg.Data()
	for k, v := range msg.Headers() {
		// The relay's expectations (Nats-Expected-Stream: TICKETS, ...)
		// were about the original stream: copied, they make JetStream
		// refuse every DLQ copy.
		if strings.HasPrefix(strings.ToLower(k), "nats-expected-") {
			continue
		}
		out.Header[k] = append([]string(nil), v...)
	}
	set := func(k, v string) { out.Header[k] = []string{v} }
	set(ticketevent.HeaderDLQReason, reason)
	set(ticketevent.HeaderDLQError, oneLine(cause.Error()))
	set(ticketevent.HeaderDLQOriginalSubject, msg.Subject())
	set(ticketevent.HeaderDLQOriginalStream, md.Stream)
	set(ticketevent.HeaderDLQOriginalSequence, strconv.FormatUint(md.Sequence.Stream, 10))
	set(ticketevent.HeaderDLQDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	set(ticketevent.HeaderDLQConsumer, md.Consumer)
	set(ticketevent.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	// One DLQ copy per original message, even if the ack below is lost and
	// the original comes back inside the duplicate window.
	set(jetstream.MsgIDHeader, md.Stream+":"+strconv.FormatUint(md.Sequence.Stream, 10))

	pctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	_, err := w.js.PublishMsg(pctx, out)
	cancel()
	if err != nil && md.NumDelivered < uint64(w.cfg.MaxDeliver) {
		w.log.Warn("dead-letter publish failed, retrying", "seq", md.Sequence.Stream, "error", err)
		_ = msg.NakWithDelay(w.backoff(md.NumDelivered))
		return outcomeRetried
	}
	if err != nil {
		w.log.Error("dead-letter publish failed on the last delivery; the event is only in the stream",
			"seq", md.Sequence.Stream, "error", err)
	} else {
		w.m.DeadLettered.WithLabelValues(reason).Inc()
	}
	w.purger.add(id, ev)
	if err := msg.Ack(); err != nil {
		w.log.Warn("ack after dead-letter", "seq", md.Sequence.Stream, "error", err)
	}
	return outcomeDeadLettered
}

// ticketIDOf is the event's ticket id or, for an undecodable message, the
// last token of its subject (tickets.changed.<ticket_id>).
func ticketIDOf(ev *eventsv1.TicketChanged, subject, prefix string) string {
	if ev != nil {
		return ev.GetTicketId()
	}
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok || rest == "" || strings.ContainsAny(rest, ".*> ") {
		return ""
	}
	return rest
}

// dlqToken makes id usable as one subject token.
func dlqToken(id string) string {
	if id == "" || strings.ContainsAny(id, ".*> \t\r\n") {
		return "unknown"
	}
	return id
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 512 {
		s = s[:512]
	}
	return s
}
