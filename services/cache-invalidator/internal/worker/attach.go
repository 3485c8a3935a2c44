package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
)

// attach creates or updates the dead-letter stream and the durable consumer,
// retrying until it succeeds or ctx is done. Every instance runs it with the
// same configuration, so they bind to one consumer.
func (w *Worker) attach(ctx context.Context) (jetstream.Consumer, error) {
	for attempt := 1; ; attempt++ {
		cons, err := w.tryAttach(ctx)
		if err == nil {
			w.log.Info("consumer attached", "stream", w.cfg.Stream.Name, "consumer", w.cfg.Consumer)
			return cons, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The stream's absence is normal while the command service starts;
		// say so once, then quietly, so the log is not a wall of retries.
		level := w.log.Debug
		if attempt == 1 || attempt%60 == 0 {
			level = w.log.Warn
		}
		level("waiting for the event stream", "stream", w.cfg.Stream.Name, "error", err)
		if !lifecycle.Sleep(ctx, w.cfg.AttachRetry) {
			return nil, ctx.Err()
		}
	}
}

func (w *Worker) tryAttach(ctx context.Context) (jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.js.CreateOrUpdateStream(ctx, w.cfg.DLQ.DLQConfig()); err != nil {
		return nil, fmt.Errorf("dead-letter stream %s: %w", w.cfg.DLQ.Name, err)
	}
	cons, err := w.js.CreateOrUpdateConsumer(ctx, w.cfg.Stream.Name, w.consumerConfig())
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("stream %s does not exist yet", w.cfg.Stream.Name)
		}
		return nil, fmt.Errorf("consumer %s: %w", w.cfg.Consumer, err)
	}
	return cons, nil
}

// consumerConfig is the durable consumer. MaxDeliver is bounded because the
// default (unlimited) redelivers a poison message forever; the handler sees
// the last delivery and dead-letters it itself. BackOff is not set: it only
// applies to ack timeouts, and failures use NakWithDelay instead.
func (w *Worker) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       w.cfg.Consumer,
		Description:   "keeps the Redis cache in step with TicketChanged events",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxDeliver:    w.cfg.MaxDeliver,
		MaxAckPending: w.cfg.MaxAckPending,
		FilterSubject: w.cfg.Stream.SubjectPrefix + ".>",
	}
}
