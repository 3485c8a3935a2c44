package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

type row struct {
	id       int64
	ticketID string
	headers  map[string]string
	payload  []byte
}

// publishError marks a failure on the NATS side: rows stay unsent and the
// relay keeps its database session.
type publishError struct{ err error }

func (e publishError) Error() string { return "publish: " + e.err.Error() }
func (e publishError) Unwrap() error { return e.err }

func isPublishErr(err error) bool {
	var pe publishError
	return errors.As(err, &pe)
}

// drain publishes batches until no unsent row is left or a publish fails.
func (r *Relay) drain(ctx context.Context, conn *pgx.Conn) error {
	for {
		batch, more, err := r.next(ctx, conn)
		if err != nil || len(batch) == 0 {
			return err
		}
		if err := r.publish(ctx, conn, batch); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// windowFactor sizes next's first read: the oldest BatchSize*windowFactor
// unsent rows usually hold BatchSize tickets.
const windowFactor = 4

// next returns the oldest unsent row of up to BatchSize tickets, in id order,
// and whether unsent rows remain besides them. One row per ticket: a
// ticket's next event is published only after the previous one was
// acknowledged, so a failed publish can never let a later version overtake
// it. A ticket written a thousand times a second must not hold back the
// others, so the batch is made of distinct tickets, not cut from the first
// BatchSize rows.
func (r *Relay) next(ctx context.Context, conn *pgx.Conn) ([]row, bool, error) {
	// The oldest rows hold the oldest row of each of their tickets (no older
	// unsent row of those tickets exists), which is the batch when they hold
	// enough tickets or every unsent row.
	window := r.cfg.BatchSize * windowFactor
	rows, err := conn.Query(ctx, `SELECT id, ticket_id::text FROM outbox
		WHERE published_at IS NULL ORDER BY id LIMIT $1`, window)
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	var (
		ids, seen = make([]int64, 0, r.cfg.BatchSize), map[string]bool{}
		n         int
		id        int64
		ticketID  string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &ticketID}, func() error {
		n++
		if !seen[ticketID] && len(ids) < r.cfg.BatchSize {
			seen[ticketID] = true
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	if n == window && len(ids) < r.cfg.BatchSize {
		// A few tickets' backlogs fill the window: find every ticket's
		// oldest row by skipping from ticket to ticket on
		// outbox_unsent_ticket_idx, a probe per ticket rather than a read
		// of each backlog.
		if ids, err = r.heads(ctx, conn); err != nil {
			return nil, false, err
		}
	}
	if len(ids) == 0 {
		return nil, false, nil
	}
	rows, err = conn.Query(ctx, `SELECT id, ticket_id::text, headers, payload FROM outbox
		WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(rs pgx.CollectableRow) (row, error) {
		var x row
		err := rs.Scan(&x.id, &x.ticketID, &x.headers, &x.payload)
		return x, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	return batch, n > len(batch), nil
}

// heads returns the ids of the oldest unsent row of up to BatchSize tickets,
// oldest first: a loose index scan over the tickets with unsent rows.
func (r *Relay) heads(ctx context.Context, conn *pgx.Conn) ([]int64, error) {
	rows, err := conn.Query(ctx, `WITH RECURSIVE t(ticket_id) AS (
			(SELECT ticket_id FROM outbox WHERE published_at IS NULL ORDER BY ticket_id LIMIT 1)
			UNION ALL
			SELECT (SELECT o.ticket_id FROM outbox o WHERE o.published_at IS NULL AND o.ticket_id > t.ticket_id
				ORDER BY o.ticket_id LIMIT 1)
			FROM t WHERE t.ticket_id IS NOT NULL)
		SELECT h.id FROM t CROSS JOIN LATERAL (SELECT o.id FROM outbox o
			WHERE o.ticket_id = t.ticket_id AND o.published_at IS NULL ORDER BY o.id LIMIT 1) h
		ORDER BY h.id LIMIT $1`, r.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("read outbox heads: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("read outbox heads: %w", err)
	}
	return ids, nil
}

// publish sends the batch asynchronously and marks what was acknowledged.
// A publish while NATS is disconnected fails at once (the connection has no
// reconnect buffer: natsconn.NoLateWrites), so its rows stay unsent.
func (r *Relay) publish(ctx context.Context, conn *pgx.Conn, batch []row) error {
	start := time.Now()
	futures := make([]jetstream.PubAckFuture, len(batch))
	var firstErr error
	for i, x := range batch {
		if conn.IsClosed() {
			// The session, and the lock with it, is gone: another relay
			// may be publishing these rows already.
			firstErr = errors.New("relay session lost")
			break
		}
		msg := &nats.Msg{
			Subject: r.cfg.Stream.Subject(x.ticketID),
			Header:  ticketevent.NATSHeader(x.headers),
			Data:    x.payload,
		}
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithExpectStream(r.cfg.Stream.Name))
		if err != nil {
			firstErr = err
			break
		}
		futures[i] = f
	}

	var acked, failed []int64
	wctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout+time.Second)
	defer cancel()
	for i, f := range futures {
		if f == nil {
			failed = append(failed, batch[i].id)
			continue
		}
		ack, err := awaitAck(wctx, f)
		switch {
		case err == nil:
			acked = append(acked, batch[i].id)
			if ack.Duplicate {
				r.metrics.Published.WithLabelValues("duplicate").Inc()
			} else {
				r.metrics.Published.WithLabelValues("ok").Inc()
			}
			continue
		case ctx.Err() != nil:
			r.unacked.Store(true)
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			r.unacked.Store(true)
			err = errors.New("publish acknowledgement timed out")
		case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
			r.unacked.Store(true)
		}
		failed = append(failed, batch[i].id)
		if firstErr == nil {
			firstErr = err
		}
	}
	r.metrics.PublishSeconds.Observe(time.Since(start).Seconds())

	if len(acked) > 0 {
		if _, err := conn.Exec(ctx, `UPDATE outbox SET published_at = now(), attempts = attempts + 1
			WHERE id = ANY($1)`, acked); err != nil {
			return fmt.Errorf("mark outbox sent: %w", err)
		}
	}
	if len(failed) > 0 {
		r.metrics.Published.WithLabelValues("error").Add(float64(len(failed)))
		if _, err := conn.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)`, failed); err != nil {
			return fmt.Errorf("count outbox attempt: %w", err)
		}
		return publishError{firstErr}
	}
	return nil
}

// awaitAck waits for f's outcome until ctx ends; an outcome already there
// wins over an ended ctx.
func awaitAck(ctx context.Context, f jetstream.PubAckFuture) (*jetstream.PubAck, error) {
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	default:
	}
	select {
	case ack := <-f.Ok():
		return ack, nil
	case err := <-f.Err():
		return nil, err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
