package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/pkg/tracing"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// Outcomes of one delivery, as counted in cache_events_processed_total.
const (
	outcomeApplied      = "applied"       // the cache now reflects the event
	outcomeSuperseded   = "superseded"    // a newer version was cached already; lists still bumped
	outcomeRetried      = "retried"       // failed, handed back with NakWithDelay
	outcomeDeadLettered = "dead_lettered" // sent to the DLQ, keys purged
)

// Reasons a message is dead-lettered.
const (
	reasonUndecodable = "undecodable" // no delivery can ever succeed
	reasonExhausted   = "exhausted"   // failed on its last delivery
)

// tracerName names the worker's spans. The tracer is looked up per event,
// not once at start, so it always belongs to the current global provider.
const tracerName = "github.com/ticketsys/ticketsys/services/cache-invalidator"

// errInvalid marks an event that decodes but cannot be applied by anyone.
var errInvalid = errors.New("invalid event")

// handle processes one delivery and always settles it: Ack, NakWithDelay,
// or dead-letter then Ack.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg) {
	start := time.Now()
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery; there is nothing to acknowledge.
		w.log.Error("message without JetStream metadata", "subject", msg.Subject(), "error", err)
		return
	}
	if md.NumDelivered > 1 {
		w.m.Redeliveries.Inc()
	}
	ev, err := decode(msg)
	if err != nil {
		w.m.observe(changeUnknown, w.deadLetter(ctx, msg, md, nil, reasonUndecodable, err), start)
		return
	}
	change := changeLabel(ev.GetChange())

	// The write's trace continues here: its traceparent rode the outbox row
	// and the message header.
	ctx, span := otel.Tracer(tracerName).Start(tracing.Extract(ctx, msg.Headers()), "cache-invalidator apply",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("ticket.id", ev.GetTicketId()),
			attribute.Int64("ticket.version", ev.GetVersion()), attribute.String("ticket.change", change)))
	defer span.End()
	opCtx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	stored, err := w.apply(opCtx, ev)
	cancel()
	if err != nil {
		span.RecordError(err)
	}
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			// The cache is right; a redelivery re-applies harmlessly.
			w.log.Warn("ack", "seq", md.Sequence.Stream, "error", err)
		}
		outcome := outcomeSuperseded
		if stored {
			outcome = outcomeApplied
		}
		// Superseded counts too: a reader had already cached this version
		// or a newer one, so the cache was right by now at the latest.
		w.m.Fresh.Observe(time.Since(ev.GetOccurredAt().AsTime()).Seconds())
		w.m.observe(change, outcome, start)
	case md.NumDelivered >= uint64(w.cfg.MaxDeliver):
		w.m.observe(change, w.deadLetter(ctx, msg, md, ev, reasonExhausted, err), start)
	default:
		delay := w.backoff(md.NumDelivered)
		w.log.Warn("apply failed, retrying", "ticket_id", ev.GetTicketId(), "version", ev.GetVersion(),
			"delivery", md.NumDelivered, "retry_in", delay, "error", err)
		if err := msg.NakWithDelay(delay); err != nil {
			w.log.Warn("nak", "seq", md.Sequence.Stream, "error", err)
		}
		w.m.observe(change, outcomeRetried, start)
	}
}

// decode reads the event and checks what apply relies on, so that a
// malformed event is dead-lettered at once instead of retried in vain.
func decode(msg jetstream.Msg) (*eventsv1.TicketChanged, error) {
	h := msg.Headers()
	ct := h.Get(ticketevent.HeaderContentType)
	if ct == "" {
		ct = h.Get("Content-Type")
	}
	ev, err := ticketevent.Unmarshal(ct, msg.Data())
	if err != nil {
		return nil, err
	}
	switch ev.GetChange() {
	case ticketevent.Created, ticketevent.Updated:
		t := ev.GetTicket()
		if t == nil || t.GetId() != ev.GetTicketId() || t.GetVersion() != ev.GetVersion() {
			return nil, fmt.Errorf("%w: %s without a matching ticket snapshot", errInvalid, ev.GetChange())
		}
	case ticketevent.Deleted:
	default:
		return nil, fmt.Errorf("%w: unknown change %q", errInvalid, ev.GetChange())
	}
	return ev, nil
}

// apply makes the cache reflect ev. The ticket key is written through the
// version fence, so replaying an old or duplicate event never moves it
// back; lists are invalidated by generation bumps, which only ever make a
// page be recomputed. Hence any order of delivery ends in the same state.
func (w *Worker) apply(ctx context.Context, ev *eventsv1.TicketChanged) (stored bool, err error) {
	var prev *ticket.Ticket
	if p := ev.GetPrevious(); p != nil {
		t := ticketevent.FromProto(p)
		prev = &t
	}
	var next *ticket.Ticket
	if ev.GetChange() == ticketevent.Deleted {
		stored, err = w.cache.SetTombstone(ctx, ev.GetTicketId(), ev.GetVersion())
	} else {
		t := ticketevent.FromProto(ev.GetTicket())
		next = &t
		stored, err = w.cache.SetTicket(ctx, t)
	}
	if err != nil {
		return false, err
	}
	if prev == nil && next == nil {
		// A delete without its previous state: which lists held the
		// ticket is unknown, so invalidate every list that can be named.
		return stored, w.invalidateBroadly(ctx)
	}
	if err := w.cache.InvalidateLists(ctx, prev, next); err != nil {
		return stored, err
	}
	if d := w.cfg.ListRebumpDelay; d > 0 {
		time.AfterFunc(d, func() {
			rctx, cancel := context.WithTimeout(context.Background(), w.cfg.OpTimeout)
			defer cancel()
			// Best effort: if it fails, such a page lives until its TTL.
			if err := w.cache.InvalidateLists(rctx, prev, next); err != nil {
				w.log.Warn("second list invalidation failed", "ticket_id", ev.GetTicketId(), "error", err)
			}
		})
	}
	return stored, nil
}

// invalidateBroadly bumps the unfiltered lists and those filtered by status
// alone. Lists filtered by assignee cannot be enumerated without a scan;
// they expire by TTL.
func (w *Worker) invalidateBroadly(ctx context.Context) error {
	for _, s := range []string{ticket.StatusOpen, ticket.StatusInProgress, ticket.StatusResolved, ticket.StatusClosed} {
		t := ticket.Ticket{Status: s}
		if err := w.cache.InvalidateLists(ctx, nil, &t); err != nil {
			return err
		}
	}
	return nil
}

// backoff is the redelivery delay after the n-th failed delivery:
// RetryMin doubled per delivery, at most RetryMax.
func (w *Worker) backoff(n uint64) time.Duration {
	d := w.cfg.RetryMin
	for i := uint64(1); i < n && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, w.cfg.RetryMax)
}

const changeUnknown = "unknown"

func changeLabel(c eventsv1.Change) string {
	switch c {
	case ticketevent.Created:
		return "created"
	case ticketevent.Updated:
		return "updated"
	case ticketevent.Deleted:
		return "deleted"
	}
	return changeUnknown
}
