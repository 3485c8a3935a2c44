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

// next reads unsent rows in id order and keeps only the first row of each
// ticket: a ticket's next event is published only after the previous one was
// acknowledged, so a failed publish can never let a later version overtake it.
func (r *Relay) next(ctx context.Context, conn *pgx.Conn) ([]row, bool, error) {
	rows, err := conn.Query(ctx, `SELECT id, ticket_id::text, headers, payload FROM outbox
		WHERE published_at IS NULL ORDER BY id LIMIT $1`, r.cfg.BatchSize)
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	all, err := pgx.CollectRows(rows, func(rs pgx.CollectableRow) (row, error) {
		var x row
		err := rs.Scan(&x.id, &x.ticketID, &x.headers, &x.payload)
		return x, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	seen := make(map[string]bool, len(all))
	batch := all[:0]
	for _, x := range all {
		if !seen[x.ticketID] {
			seen[x.ticketID] = true
			batch = append(batch, x)
		}
	}
	more := len(all) == r.cfg.BatchSize || len(batch) < len(all)
	return batch, more, nil
}

// publish sends the batch asynchronously and marks what was acknowledged.
func (r *Relay) publish(ctx context.Context, conn *pgx.Conn, batch []row) error {
	start := time.Now()
	futures := make([]jetstream.PubAckFuture, len(batch))
	var firstErr error
	for i, x := range batch {
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
	deadline := time.NewTimer(r.cfg.PublishTimeout + time.Second)
	defer deadline.Stop()
	for i, f := range futures {
		if f == nil {
			failed = append(failed, batch[i].id)
			continue
		}
		select {
		case ack := <-f.Ok():
			acked = append(acked, batch[i].id)
			if ack.Duplicate {
				r.metrics.Published.WithLabelValues("duplicate").Inc()
			} else {
				r.metrics.Published.WithLabelValues("ok").Inc()
			}
		case err := <-f.Err():
			failed = append(failed, batch[i].id)
			if firstErr == nil {
				firstErr = err
			}
		case <-deadline.C:
			failed = append(failed, batch[i].id)
			if firstErr == nil {
				firstErr = errors.New("publish acknowledgement timed out")
			}
		case <-ctx.Done():
			return ctx.Err()
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
