// Package worker is the cache-invalidator's consumer: it reads TicketChanged
// events from the durable pull consumer and keeps Redis in step with them,
// dead-lettering what it cannot apply.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/lifecycle"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	"github.com/ticketsys/ticketsys/services/cache-invalidator/internal/invalidation"
)

// Config is how the worker consumes; service fills it from the environment.
type Config struct {
	Stream        ticketevent.StreamOptions // Name and SubjectPrefix of the events' stream
	Consumer      string                    // durable name, shared by every instance
	DLQ           ticketevent.StreamOptions // the dead-letter stream, created or updated at start
	AckWait       time.Duration
	MaxDeliver    int
	MaxAckPending int
	RetryMin      time.Duration // first NakWithDelay; doubles per delivery
	RetryMax      time.Duration
	Concurrency   int           // messages handled at once
	AttachRetry   time.Duration // pause between attempts to find the stream
	OpTimeout     time.Duration // bound on one message's Redis work
	HoldProbe     time.Duration // while Redis does not answer, how often a held delivery tries again; 500ms if 0
	PurgeGrace    time.Duration // how long Run waits for pending purges on shutdown
	PurgeQueue    int           // dead-lettered events whose keys can wait for Redis at once
	PullExpiry    time.Duration // a pull request's life; 5s if 0
	PullHeartbeat time.Duration // the server's heartbeat on an idle pull; 1s if 0
	// Loss, when set, is asked every LossInterval whether Redis lost data;
	// on a loss the events of the last ReplayWindow are applied again.
	Loss         LossChecker
	LossInterval time.Duration
	ReplayWindow time.Duration
}

// LossChecker tells whether Redis lost data since it was last asked;
// ticketcache.LossDetector is one.
type LossChecker interface {
	Check(ctx context.Context) (lost bool, err error)
}

func (c *Config) defaults() {
	if c.AttachRetry <= 0 {
		c.AttachRetry = time.Second
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 5 * time.Second
	}
	if c.HoldProbe <= 0 {
		c.HoldProbe = 500 * time.Millisecond
	}
	if c.PurgeGrace <= 0 {
		c.PurgeGrace = 5 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.PurgeQueue <= 0 {
		c.PurgeQueue = 10000
	}
	if c.PullExpiry <= 0 {
		c.PullExpiry = 5 * time.Second
	}
	if c.PullHeartbeat <= 0 {
		c.PullHeartbeat = time.Second
	}
	if c.LossInterval <= 0 {
		c.LossInterval = time.Second
	}
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = 30 * time.Second
	}
}

// Worker applies events to the cache. Run it once per process; several
// processes share the consumer.
type Worker struct {
	cfg  Config
	js   jetstream.JetStream
	rule *invalidation.Rule
	log  *slog.Logger
	m    *Metrics

	attached atomic.Bool
	purger   *purger
}

// New builds a worker that applies rule; nothing talks to NATS or Redis
// before Run.
func New(cfg Config, js jetstream.JetStream, rule *invalidation.Rule, log *slog.Logger, m *Metrics) *Worker {
	cfg.defaults()
	w := &Worker{cfg: cfg, js: js, rule: rule, log: log, m: m}
	w.purger = newPurger(w)
	return w
}

// ErrNotAttached is the readiness failure before the consumer is bound.
var ErrNotAttached = errors.New("consumer not attached")

// Ready reports whether the worker is bound to its consumer and pulling.
func (w *Worker) Ready(context.Context) error {
	if !w.attached.Load() {
		return ErrNotAttached
	}
	return nil
}

// Run consumes until ctx is done, then stops pulling, lets in-flight messages
// finish (buffered ones are handed back with a Nak), waits up to PurgeGrace
// for dead-letter purges and for the rule's delayed bumps, and returns. A missing stream or an unreachable
// NATS at start is waited out, not an error: the command service creates
// the stream and may start later.
func (w *Worker) Run(ctx context.Context) error {
	purgeCtx, cancelPurges := context.WithCancel(context.WithoutCancel(ctx))
	go w.purger.run(purgeCtx)
	watched := make(chan struct{})
	if w.cfg.Loss != nil {
		go func() {
			defer close(watched)
			w.watchLoss(ctx)
		}()
	} else {
		close(watched)
	}
	defer func() {
		<-watched
		w.stopPurger(cancelPurges)
		w.rule.Close()
	}()
	for {
		cons, err := w.attach(ctx)
		if err != nil {
			return nil // ctx is done
		}
		err = w.consume(ctx, cons)
		w.attached.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		w.log.Warn("consumer lost, attaching again", "error", err)
		if !lifecycle.Sleep(ctx, w.cfg.AttachRetry) {
			return nil
		}
	}
}

// stopPurger gives pending purges PurgeGrace to finish (handlers are done,
// nothing is queued any more), then stops the purger.
func (w *Worker) stopPurger(cancel context.CancelFunc) {
	w.purger.stop()
	t := time.NewTimer(w.cfg.PurgeGrace)
	defer t.Stop()
	select {
	case <-w.purger.done:
	case <-t.C:
		w.log.Error("shutdown with dead-letter purges pending; their keys expire by TTL",
			"pending", w.purger.pendingCount())
	}
	cancel()
	<-w.purger.done
}
