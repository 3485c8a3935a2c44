package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// After Redis lost data, the version fence of a ticket is gone with its
// key: a query service fill that read Postgres before a newer version
// committed, and lands after the loss, writes the older version, which
// then lives for the TTL. The newer version's event is at most F old at the
// loss (F, the longest fill: the query service cuts its loads off after
// 5 s), so applying the events of the last ReplayWindow (> F plus the check
// interval) again, once the loss is seen, writes a version at least as new
// as any such fill read: over a fill that landed before, and fencing off
// one that lands after. It also restores the writes the loss took (a
// failover's unreplicated ones) within the window, and bumps the lists.

// watchLoss asks Config.Loss every LossInterval whether Redis lost data and
// replays the events since ReplayWindow before, until ctx is done. A failed
// check (Redis down) is asked again, a failed replay run again, at the next
// tick.
func (w *Worker) watchLoss(ctx context.Context) {
	t := time.NewTicker(w.cfg.LossInterval)
	defer t.Stop()
	var (
		pending bool
		from    time.Time // of the pending replay
		retryAt time.Time // of a replay that failed
		backoff time.Duration
		failing bool // the checks fail: said once, not every tick
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		lost, err := w.cfg.Loss.Check(cctx)
		cancel()
		switch {
		case err != nil && !failing:
			failing = true
			w.log.Warn("redis loss check failing", "error", err)
		case err != nil:
			w.log.Debug("redis loss check", "error", err)
		case failing:
			failing = false
			w.log.Info("redis loss check answering again")
		}
		if err == nil && lost {
			since := time.Now().Add(-w.cfg.ReplayWindow)
			if !pending || since.Before(from) {
				from = since
			}
			pending, retryAt, backoff = true, time.Time{}, 0
			w.m.RedisLosses.Inc()
			w.log.Warn("redis lost data; applying the recent events again", "since", from)
		}
		if !pending || time.Now().Before(retryAt) {
			continue
		}
		n, err := w.replay(ctx, from)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Redis or NATS down, or no right to create the replay's
			// consumer: again later, not every tick.
			backoff = min(max(2*backoff, w.cfg.LossInterval), time.Minute)
			retryAt = time.Now().Add(backoff)
			w.log.Warn("replay after redis data loss failed; trying again", "since", from, "retry_in", backoff, "error", err)
			continue
		}
		pending = false
		w.log.Info("events applied again after redis data loss", "since", from, "events", n)
	}
}

// replayIdle bounds the wait for the next message of a replay: they are
// all stored already, so a silence means the consumer is stuck.
const replayIdle = 5 * time.Second

// replay applies, for every ticket with an event stored since from (up to
// the stream's last message when it starts), the newest of its events,
// read with an ordered consumer of its own (it never touches the durable
// one). Only the newest: applying them all in stream order would take the
// cache back to each ticket's oldest version in the window and forward
// again, serving those old versions meanwhile (make chaos saw reads of v1
// for seconds after a FLUSHALL). It returns how many it applied.
func (w *Worker) replay(ctx context.Context, from time.Time) (int, error) {
	sctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	st, err := w.js.Stream(sctx, w.cfg.Stream.Name)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("stream: %w", err)
	}
	state := st.CachedInfo().State
	if state.Msgs == 0 || state.LastTime.Before(from) {
		return 0, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{w.cfg.Stream.SubjectPrefix + ".>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		return 0, fmt.Errorf("ordered consumer: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return 0, fmt.Errorf("ordered consumer: %w", err)
	}
	defer it.Stop()
	newest := map[string]*eventsv1.TicketChanged{}
	read := 0
	for done := false; !done; {
		msg, err := it.Next(jetstream.NextMaxWait(replayIdle))
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			return 0, fmt.Errorf("after %d events: %w", read, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return 0, err
		}
		read++
		// An event that does not decode went to the DLQ when it was first
		// delivered; the replay skips it.
		if ev, err := decode(msg); err == nil {
			if cur, ok := newest[ev.GetTicketId()]; !ok || ev.GetVersion() > cur.GetVersion() {
				newest[ev.GetTicketId()] = ev
			}
		}
		done = md.Sequence.Stream >= state.LastSeq || md.NumPending == 0
	}
	n := 0
	for _, ev := range newest {
		opCtx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
		_, err := w.rule.Reapply(opCtx, ev)
		cancel()
		if err != nil {
			return n, fmt.Errorf("apply %s v%d: %w", ev.GetTicketId(), ev.GetVersion(), err)
		}
		n++
		w.m.Replayed.Inc()
	}
	return n, nil
}
