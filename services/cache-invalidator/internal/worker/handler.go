package worker

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/redisconn"
	"github.com/ticketsys/ticketsys/pkg/ticketcache"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/pkg/tracing"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// Outcomes of one delivery, as counted in ticketsys_cache_events_processed_total.
const (
	outcomeApplied      = "applied"       // the cache now reflects the event
	outcomeSuperseded   = "superseded"    // a newer version was cached already; lists still bumped
	outcomeRetried      = "retried"       // failed, handed back with NakWithDelay
	outcomeDeadLettered = "dead_lettered" // sent to the DLQ, keys purged
)

// tracerName names the worker's spans. The tracer is looked up per event,
// not once at start, so it always belongs to the current global provider.
const tracerName = "github.com/ticketsys/ticketsys/services/cache-invalidator"

// handle processes one delivery and always settles it: Ack, NakWithDelay,
// or dead-letter then Ack. A delivery held for Redis is handed back with a
// Nak when stop ends; nothing else in handle heeds stop.
func (w *Worker) handle(stop context.Context, msg jetstream.Msg) {
	ctx := context.WithoutCancel(stop)
	start := time.Now()
	var (
		md      *jetstream.MsgMetadata
		ev      *eventsv1.TicketChanged
		change  = changeUnknown
		settled bool // an Ack, Nak or dead-letter began: never settle twice
	)
	// A panic (a bug, a cache choking on one ticket) is a failed delivery,
	// not a crash: unrecovered it kills every message in flight, and its
	// redelivery then kills each replica in turn.
	defer func() {
		if p := recover(); p != nil {
			w.recovered(ctx, msg, md, ev, change, start, settled, p)
		}
	}()
	md, err := msg.Metadata()
	if err != nil {
		// Not a JetStream delivery; there is nothing to acknowledge.
		w.log.Error("message without JetStream metadata", "subject", msg.Subject(), "error", err)
		return
	}
	if md.NumDelivered > 1 {
		w.m.Redeliveries.Inc()
	}
	ev, err = decode(msg)
	if err != nil {
		settled = true
		w.m.observe(changeUnknown, w.deadLetter(ctx, msg, md, nil, ticketevent.DLQReasonUndecodable, err), start)
		return
	}
	change = changeLabel(ev.GetChange())

	// The write's trace continues here: its traceparent rode the outbox row
	// and the message header.
	// The name and the messaging.* attributes follow the semantic conventions (v1.43.0): a process span
	// is named after its consumer group, the durable, since the destination (the ticket's subject) is
	// one per ticket.
	ctx, span := otel.Tracer(tracerName).Start(tracing.Extract(ctx, msg.Headers()), "process "+w.cfg.Consumer,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("ticket.id", ev.GetTicketId()),
			attribute.Int64("ticket.version", ev.GetVersion()), attribute.String("ticket.change", change),
			tracing.MessagingSystemNATS, semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"), semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingConsumerGroupName(w.cfg.Consumer)),
		trace.WithAttributes(tracing.MessageID(msg.Headers().Get(jetstream.MsgIDHeader))...))
	defer span.End()
	stored, err := w.apply(ctx, ev)
	if err != nil && redisDown(err) {
		if stored, err = w.hold(ctx, stop, msg, ev); errors.Is(err, errStopped) {
			settled = true
			w.giveBack(msg)
			w.m.observe(change, outcomeRetried, start)
			return
		}
	}
	settled = true
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		w.fail(ctx, msg, md, ev, change, start, err)
		return
	}
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
}

func (w *Worker) apply(ctx context.Context, ev *eventsv1.TicketChanged) (bool, error) {
	opCtx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	return w.rule.Apply(opCtx, ev)
}

// errStopped ends a hold at shutdown.
var errStopped = errors.New("worker stopping")

// hold keeps a delivery whose Redis did not answer in progress and applies
// it again (in ctx) every HoldProbe until Redis answers (or fails
// otherwise), or until stop ends. An outage is not the event's fault: a back-off would
// still be waiting after Redis came back, with MaxAckPending full of such
// deliveries and nothing newer delivered, and a long outage would
// dead-letter every event. Held deliveries take the handlers, so the
// worker stops pulling until Redis is back, and its lag shows the outage.
func (w *Worker) hold(ctx, stop context.Context, msg jetstream.Msg, ev *eventsv1.TicketChanged) (bool, error) {
	w.m.Held.Inc()
	defer w.m.Held.Dec()
	w.log.Warn("Redis does not answer; holding the event until it does", "ticket_id", ev.GetTicketId(),
		"version", ev.GetVersion())
	for {
		// Reset AckWait, so the server does not hand the delivery to
		// another instance that would only hold it too.
		if err := msg.InProgress(); err != nil {
			w.log.Debug("in progress", "error", err)
		}
		if !lifecycle.Sleep(stop, w.cfg.HoldProbe) {
			return false, errStopped
		}
		stored, err := w.apply(ctx, ev)
		if err == nil || !redisDown(err) {
			return stored, err
		}
	}
}

// redisDown tells an error of a Redis that did not answer (refused, reset,
// timed out, no free connection) or answered that it cannot serve yet
// (loading its data, its cluster or master down) from any other.
func redisDown(err error) bool {
	return redisconn.NodeDown(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) ||
		redis.HasErrorPrefix(err, "LOADING") || redis.HasErrorPrefix(err, "MASTERDOWN") ||
		redis.HasErrorPrefix(err, "CLUSTERDOWN") || redis.HasErrorPrefix(err, "TRYAGAIN")
}

// fail settles a failed delivery: dead-lettered on the last one, otherwise
// handed back with NakWithDelay. ev is nil when the message did not decode.
func (w *Worker) fail(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata,
	ev *eventsv1.TicketChanged, change string, start time.Time, err error,
) {
	if md.NumDelivered >= uint64(w.cfg.MaxDeliver) {
		if errors.Is(err, ticketcache.ErrNotReplicated) {
			// The primary has every write; only a replica did not confirm
			// it (one down or being replaced). Dead-lettering would delete
			// keys that are right: keep them, and the event acknowledged.
			w.log.Warn("applied without a replica's acknowledgement", "ticket_id", ev.GetTicketId(),
				"version", ev.GetVersion(), "delivery", md.NumDelivered, "error", err)
			if aerr := msg.Ack(); aerr != nil {
				w.log.Warn("ack", "seq", md.Sequence.Stream, "error", aerr)
			}
			w.m.observe(change, outcomeApplied, start)
			return
		}
		w.m.observe(change, w.deadLetter(ctx, msg, md, ev, ticketevent.DLQReasonExhausted, err), start)
		return
	}
	delay := w.backoff(md.NumDelivered)
	w.log.Warn("apply failed, retrying", "ticket_id", ev.GetTicketId(), "version", ev.GetVersion(),
		"delivery", md.NumDelivered, "retry_in", delay, "error", err)
	if err := msg.NakWithDelay(delay); err != nil {
		w.log.Warn("nak", "seq", md.Sequence.Stream, "error", err)
	}
	w.m.observe(change, outcomeRetried, start)
}

// recovered handles a panic in handle: logged with its stack, counted, and
// the delivery settled as a failure, so it is retried with back-off and
// dead-lettered after MaxDeliver. A panic once settling began is only
// logged: settling again could dead-letter an event already applied.
func (w *Worker) recovered(ctx context.Context, msg jetstream.Msg, md *jetstream.MsgMetadata,
	ev *eventsv1.TicketChanged, change string, start time.Time, settled bool, p any,
) {
	w.m.Panics.Inc()
	w.log.Error("panic handling event", "subject", msg.Subject(), "ticket_id", ev.GetTicketId(),
		"panic", p, "stack", string(debug.Stack()))
	if md == nil || settled {
		return
	}
	w.fail(ctx, msg, md, ev, change, start, fmt.Errorf("panic: %v", p))
}

// decode reads the event and checks what the rule relies on, so that a
// malformed event is dead-lettered at once instead of retried in vain.
func decode(msg jetstream.Msg) (*eventsv1.TicketChanged, error) {
	// ce-datacontenttype, else content-type (the only one on messages from
	// before ce-datacontenttype was sent), in any case.
	ev, err := ticketevent.Unmarshal(ticketevent.ContentType(msg.Headers()), msg.Data())
	if err != nil {
		return nil, err
	}
	if err := invalidation.Check(ev); err != nil {
		return nil, err
	}
	return ev, nil
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
