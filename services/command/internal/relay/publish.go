package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

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

const (
	// windowFactor sizes next's first read: the oldest
	// BatchSize*windowFactor unsent rows usually hold BatchSize tickets.
	windowFactor = 4
	// chainDepth caps the rows of one ticket in a batch: a ticket written a
	// thousand times a second is published that many rows per round trip
	// of the batch, and the round stays short for everybody else.
	chainDepth = 64
)

// next returns the oldest unsent rows of up to BatchSize tickets, up to
// chainDepth of each, in id order, and whether unsent rows remain besides
// them. A ticket written a thousand times a second must not hold back the
// others, so the tickets are chosen first, not cut from the first rows.
func (r *Relay) next(ctx context.Context, conn *pgx.Conn) ([]row, bool, error) {
	window := r.cfg.BatchSize * windowFactor
	rows, err := conn.Query(ctx, `SELECT ticket_id::text FROM outbox
		WHERE published_at IS NULL ORDER BY id LIMIT $1`, window)
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	var (
		tickets  = make([]string, 0, r.cfg.BatchSize)
		seen     = map[string]bool{}
		n        int
		ticketID string
	)
	_, err = pgx.ForEachRow(rows, []any{&ticketID}, func() error {
		n++
		if !seen[ticketID] && len(tickets) < r.cfg.BatchSize {
			seen[ticketID] = true
			tickets = append(tickets, ticketID)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read outbox: %w", err)
	}
	if n == window && len(tickets) < r.cfg.BatchSize {
		// A few tickets' backlogs fill the window: find the tickets with
		// unsent rows by skipping from ticket to ticket on
		// outbox_unsent_ticket_idx, a probe per ticket rather than a read
		// of each backlog.
		if tickets, err = r.heads(ctx, conn); err != nil {
			return nil, false, err
		}
	}
	if len(tickets) == 0 {
		return nil, false, nil
	}
	rows, err = conn.Query(ctx, `SELECT o.id, o.ticket_id::text, o.headers, o.payload
		FROM unnest($1::uuid[]) t(ticket_id) CROSS JOIN LATERAL (
			SELECT id, ticket_id, headers, payload FROM outbox
			WHERE ticket_id = t.ticket_id AND published_at IS NULL ORDER BY id LIMIT $2) o
		ORDER BY o.id`, tickets, chainDepth)
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
	return batch, n == window || n > len(batch), nil
}

// heads returns up to BatchSize tickets with unsent rows, the one with the
// oldest such row first: a loose index scan over the tickets.
func (r *Relay) heads(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `WITH RECURSIVE t(ticket_id) AS (
			(SELECT ticket_id FROM outbox WHERE published_at IS NULL ORDER BY ticket_id LIMIT 1)
			UNION ALL
			SELECT (SELECT o.ticket_id FROM outbox o WHERE o.published_at IS NULL AND o.ticket_id > t.ticket_id
				ORDER BY o.ticket_id LIMIT 1)
			FROM t WHERE t.ticket_id IS NOT NULL)
		SELECT t.ticket_id::text FROM t CROSS JOIN LATERAL (SELECT o.id FROM outbox o
			WHERE o.ticket_id = t.ticket_id AND o.published_at IS NULL ORDER BY o.id LIMIT 1) h
		ORDER BY h.id LIMIT $1`, r.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("read outbox heads: %w", err)
	}
	tickets, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read outbox heads: %w", err)
	}
	return tickets, nil
}

// chains splits a batch in id order into each ticket's rows, in version
// order, the tickets by their oldest row.
func chains(batch []row) [][]row {
	var out [][]row
	at := map[string]int{}
	for _, x := range batch {
		i, ok := at[x.ticketID]
		if !ok {
			i = len(out)
			at[x.ticketID] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], x)
	}
	return out
}

// publish sends the batch and marks what was acknowledged. It goes in
// waves: each wave publishes the next row of every ticket at once, and a
// ticket's next row goes in the next wave only after its previous one was
// acknowledged, so a failed publish can never let a later version of its
// ticket overtake it. A publish while NATS is disconnected fails at once
// (the connection has no reconnect buffer: natsconn.NoLateWrites), so its
// rows stay unsent.
func (r *Relay) publish(ctx context.Context, conn *pgx.Conn, batch []row) error {
	start := time.Now()
	var (
		acked, failed []int64
		firstErr      error
	)
	live := chains(batch)
	for wave := 0; len(live) > 0; wave++ {
		heads := make([]row, len(live))
		for i, c := range live {
			heads[i] = c[0]
		}
		ok, err := r.publishWave(ctx, conn, heads)
		if err != nil && !isPublishErr(err) {
			return err
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		next := live[:0]
		for i, c := range live {
			if !ok[i] {
				// This row failed: it and the rest of its ticket wait.
				for _, x := range c {
					failed = append(failed, x.id)
				}
				continue
			}
			acked = append(acked, c[0].id)
			if len(c) > 1 {
				next = append(next, c[1:])
			}
		}
		live = next
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

// publishWave publishes rows of distinct tickets asynchronously and reports
// which were acknowledged; a publishError carries the first failure. Only
// the end of ctx, which leaves the outcome unknown, returns another error.
func (r *Relay) publishWave(ctx context.Context, conn *pgx.Conn, rows []row) ([]bool, error) {
	futures := make([]jetstream.PubAckFuture, len(rows))
	spans := make([]trace.Span, len(rows)) // nil with tracing off, or once ended
	defer func() {
		for _, span := range spans {
			endPublish(span, nil, errAbandoned)
		}
	}()
	ok := make([]bool, len(rows))
	var firstErr error
	for i, x := range rows {
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
		spans[i] = r.startPublish(ctx, msg, x)
		f, err := r.js.PublishMsgAsync(msg, jetstream.WithExpectStream(r.cfg.Stream.Name))
		if err != nil {
			endPublish(spans[i], nil, err)
			spans[i] = nil
			firstErr = err
			break
		}
		futures[i] = f
	}

	wctx, cancel := context.WithTimeout(ctx, r.cfg.PublishTimeout+time.Second)
	defer cancel()
	for i, f := range futures {
		if f == nil {
			continue
		}
		ack, err := awaitAck(wctx, f)
		switch {
		case err == nil:
			endPublish(spans[i], ack, nil)
			spans[i] = nil
			ok[i] = true
			if ack.Duplicate {
				r.metrics.Published.WithLabelValues("duplicate").Inc()
			} else {
				r.metrics.Published.WithLabelValues("ok").Inc()
			}
			continue
		case ctx.Err() != nil:
			// The deferred loop ends the spans left open, as abandoned.
			r.unacked.Store(true)
			return nil, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			r.unacked.Store(true)
			err = errors.New("publish acknowledgement timed out")
		case errors.Is(err, jetstream.ErrAsyncPublishTimeout):
			r.unacked.Store(true)
		}
		endPublish(spans[i], nil, err)
		spans[i] = nil
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return ok, publishError{firstErr}
	}
	return ok, nil
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
