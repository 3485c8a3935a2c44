package main

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/cmd/ticketctl/internal/liveview"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// followRetry is the pause before the live view reads the stream again after an error
// (NATS restarting, the stream recreated): long enough not to spin, short enough to notice.
const followRetry = 2 * time.Second

// followLive feeds the live view until ctx ends. Unlike tail, which exits on an error, the
// view says what happened on the page and starts a new ordered consumer: it is meant to be
// left open.
func (a *app) followLive(ctx context.Context, conn *natsConn, sf *streamFlags, cfg jetstream.OrderedConsumerConfig, f *follower, srv *liveview.Server) {
	for {
		err := pump(ctx, f, srv)
		f.close()
		if ctx.Err() != nil {
			return
		}
		srv.Notice("event stream interrupted (%v); reading it again", err)
		for f == nil || err != nil {
			if sleep(ctx, followRetry) != nil {
				return
			}
			// Resume after what was shown, so a reconnect neither repeats nor skips events.
			if last := srv.LastSeq(); last > 0 {
				cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
			}
			if f, err = followStream(ctx, conn, sf, cfg); err != nil && ctx.Err() == nil {
				srv.Notice("cannot read the event stream yet: %v", err)
			}
		}
	}
}

// pump publishes what f reads until it fails.
func pump(ctx context.Context, f *follower, srv *liveview.Server) error {
	for {
		m, err := f.next(ctx)
		if err != nil {
			return err
		}
		if m.decodeErr != nil {
			srv.Notice("%v", m.decodeErr)
			continue
		}
		srv.Publish(toLiveEvent(m.seq, m.subject, m.ev))
	}
}

// toLiveEvent is the page's row for one event, in the same terms as events tail's line.
func toLiveEvent(seq uint64, subject string, ev *eventsv1.TicketChanged) liveview.Event {
	return liveview.Event{
		Seq:         seq,
		EventID:     ev.GetEventId(),
		Subject:     subject,
		Time:        ev.GetOccurredAt().AsTime().UTC().Format(timeLayout),
		Ticket:      ev.GetTicketId(),
		Change:      ev.GetChange().String(),
		Version:     ev.GetVersion(),
		Fields:      ev.GetChangedFields(),
		Actor:       ev.GetActor(),
		Correlation: ev.GetCorrelationId(),
		Line:        strings.Join(strings.Fields(formatEvent(ev)), " "),
	}
}

// toLiveStats narrows events stats' report to what the page shows.
func toLiveStats(r statsReport) liveview.NATSStats {
	return liveview.NATSStats{
		Stream: liveview.StreamStats{Name: r.Stream.Name, Exists: r.Stream.Exists,
			Messages: r.Stream.Messages, LastSeq: r.Stream.LastSeq},
		Consumer: liveview.ConsumerStats{Name: r.Consumer.Name, Exists: r.Consumer.Exists,
			Pending: r.Consumer.Pending, AckPending: r.Consumer.AckPending, Redelivered: r.Consumer.Redelivered},
		DLQ: liveview.StreamStats{Name: r.DLQ.Name, Exists: r.DLQ.Exists,
			Messages: r.DLQ.Messages, LastSeq: r.DLQ.LastSeq},
	}
}
