package worker

import (
	"context"
	"errors"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// consume pulls messages and hands each to a pool of Concurrency handlers.
// Order between messages does not matter: every cache write is fenced by
// the ticket's version and list invalidation only bumps counters, so
// parallel handling cannot let an older event undo a newer one.
//
// When ctx is done the iterator is drained: messages already buffered are
// given back with a Nak (another instance takes them at once instead of
// after AckWait), and handlers in flight finish, each bounded by OpTimeout.
func (w *Worker) consume(ctx context.Context, cons jetstream.Consumer) error {
	it, err := cons.Messages(
		jetstream.PullMaxMessages(w.cfg.Concurrency),
		// A pull request the server lost (its consumer leader moved or
		// died, an instance restarting on the same consumer) is noticed
		// when its heartbeats stop: two missed heartbeats, or, without
		// any, its expiry. nats.go's 30 s expiry and 15 s heartbeat left
		// the cache stale that long; 1 s heartbeats resume within ~2 s.
		jetstream.PullExpiry(w.cfg.PullExpiry),
		jetstream.PullHeartbeat(w.cfg.PullHeartbeat),
		// Next returns ErrNoHeartbeat after two missed heartbeats, having
		// dropped its count of the lost request's messages, and the next
		// Next pulls again at once. The iterator would do the same without
		// telling; this way it is counted and logged.
		jetstream.WithMessagesErrOnMissingHeartbeat(true),
	)
	if err != nil {
		return err
	}
	w.attached.Store(true)
	stopDrain := context.AfterFunc(ctx, it.Drain)
	defer stopDrain()

	slots := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return err
			}
			if terminal(err) {
				it.Stop()
				return err
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				w.m.HeartbeatsMissed.Inc()
				w.log.Info("pull request lost (no heartbeat); pulling again", "after", 2*w.cfg.PullHeartbeat)
				continue
			}
			w.log.Debug("pull", "error", err)
			continue
		}
		if !acquire(ctx, slots) {
			w.giveBack(msg)
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			w.handle(ctx, msg)
		})
	}
}

// acquire takes a handler slot, unless shutdown began first.
func acquire(ctx context.Context, slots chan struct{}) bool {
	if ctx.Err() != nil {
		return false
	}
	select {
	case slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// giveBack returns a message that was delivered but not started, so that
// it is redelivered now rather than when AckWait runs out.
func (w *Worker) giveBack(msg jetstream.Msg) {
	if err := msg.Nak(); err != nil {
		w.log.Debug("nak on shutdown", "error", err)
	}
}

// terminal tells the errors after which this iterator will never deliver
// again: the consumer or its stream is gone.
func terminal(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrBadRequest) ||
		errors.Is(err, jetstream.ErrConnectionClosed)
}
