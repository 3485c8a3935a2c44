package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

type streamStats struct {
	Name      string    `json:"name"`
	Messages  uint64    `json:"messages"`
	Bytes     uint64    `json:"bytes"`
	FirstSeq  uint64    `json:"first_seq"`
	FirstTime time.Time `json:"first_time"`
	LastSeq   uint64    `json:"last_seq"`
	LastTime  time.Time `json:"last_time"`
	Consumers int       `json:"consumers"`
	Exists    bool      `json:"exists"`
}

type consumerStats struct {
	Name         string `json:"name"`
	Exists       bool   `json:"exists"`
	Pending      uint64 `json:"pending"`
	AckPending   int    `json:"ack_pending"`
	Redelivered  int    `json:"redelivered"`
	Waiting      int    `json:"waiting"`
	DeliveredSeq uint64 `json:"delivered_stream_seq"`
	AckFloorSeq  uint64 `json:"ack_floor_stream_seq"`
}

type statsReport struct {
	Stream   streamStats   `json:"stream"`
	Consumer consumerStats `json:"consumer"`
	DLQ      streamStats   `json:"dlq"`
	Notes    []string      `json:"notes,omitempty"`
}

func (a *app) statsCmd(sf *streamFlags) *cobra.Command {
	var (
		consumer string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Show the stream, the durable consumer's backlog and the dead-letter queue",
		Long: `Show stream TICKETS (messages, bytes, first and last sequence and time), the durable
consumer's backlog (pending: stored but not yet delivered; ack pending: delivered, not yet
acknowledged; redelivered) and the size of the dead-letter stream TICKETS_DLQ.
A missing consumer or DLQ stream is reported as a note, not an error; a missing events
stream is an error (exit 1).`,
		Example: `  ticketctl events stats
  ticketctl events stats --json | jq .consumer.pending`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if err := sf.validate(); err != nil {
				return err
			}
			if err := ticketevent.CheckName("--consumer", consumer); err != nil {
				return usageError{err}
			}
			r, err := a.stats(cmd.Context(), sf, consumer)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(r)
			}
			return r.print(a)
		}),
	}
	cmd.Flags().StringVar(&consumer, "consumer", ticketevent.DefaultConsumer, "the durable consumer to report on")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func (a *app) stats(ctx context.Context, sf *streamFlags, consumer string) (statsReport, error) {
	conn, err := a.connectNATS(sf.timeout)
	if err != nil {
		return statsReport{}, err
	}
	defer conn.Close()
	return collectStats(ctx, conn, sf, consumer)
}

// collectStats reads the stream, consumer and DLQ numbers over an open connection; the live
// view calls it every second on its own long-lived connection.
func collectStats(ctx context.Context, conn *natsConn, sf *streamFlags, consumer string) (statsReport, error) {
	var r statsReport
	ctx, cancel := context.WithTimeout(ctx, sf.timeout)
	defer cancel()

	st, err := conn.stream(ctx, sf.stream)
	if err != nil {
		return r, err
	}
	if r.Stream, err = streamInfo(ctx, st); err != nil {
		return r, err
	}
	r.Consumer.Name = consumer
	cons, err := st.Consumer(ctx, consumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		r.Notes = append(r.Notes, fmt.Sprintf("consumer %s does not exist on stream %s (is the cache-invalidator deployed?)", consumer, sf.stream))
	case err != nil:
		return r, fmt.Errorf("consumer %s: %w", consumer, err)
	default:
		ci := cons.CachedInfo()
		r.Consumer = consumerStats{
			Name: consumer, Exists: true, Pending: ci.NumPending, AckPending: ci.NumAckPending,
			Redelivered: ci.NumRedelivered, Waiting: ci.NumWaiting,
			DeliveredSeq: ci.Delivered.Stream, AckFloorSeq: ci.AckFloor.Stream,
		}
	}

	r.DLQ.Name = sf.dlqStream
	dlq, err := conn.js.Stream(ctx, sf.dlqStream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		r.Notes = append(r.Notes, fmt.Sprintf("DLQ stream %s does not exist: nothing has been dead-lettered", sf.dlqStream))
	case err != nil:
		return r, fmt.Errorf("stream %s: %w", sf.dlqStream, err)
	default:
		if r.DLQ, err = streamInfo(ctx, dlq); err != nil {
			return r, err
		}
	}
	return r, nil
}

func streamInfo(ctx context.Context, st jetstream.Stream) (streamStats, error) {
	// Fresh info, not the cached copy from the lookup: stats is about now.
	info, err := st.Info(ctx)
	if err != nil {
		return streamStats{}, fmt.Errorf("stream %s: %w", st.CachedInfo().Config.Name, err)
	}
	s := info.State
	return streamStats{
		Name: info.Config.Name, Exists: true, Messages: s.Msgs, Bytes: s.Bytes,
		FirstSeq: s.FirstSeq, FirstTime: s.FirstTime, LastSeq: s.LastSeq, LastTime: s.LastTime,
		Consumers: s.Consumers,
	}, nil
}

func (r statsReport) print(a *app) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	s := r.Stream
	fmt.Fprintf(tw, "stream\t%s\n", s.Name)
	fmt.Fprintf(tw, "  messages\t%d (%d bytes)\n", s.Messages, s.Bytes)
	fmt.Fprintf(tw, "  first\tseq %d at %s\n", s.FirstSeq, fmtTime(s.FirstTime))
	fmt.Fprintf(tw, "  last\tseq %d at %s\n", s.LastSeq, fmtTime(s.LastTime))
	fmt.Fprintf(tw, "  consumers\t%d\n", s.Consumers)
	c := r.Consumer
	if c.Exists {
		fmt.Fprintf(tw, "consumer\t%s\n", c.Name)
		fmt.Fprintf(tw, "  pending\t%d (stored, not yet delivered)\n", c.Pending)
		fmt.Fprintf(tw, "  ack pending\t%d (delivered, not yet acknowledged)\n", c.AckPending)
		fmt.Fprintf(tw, "  redelivered\t%d\n", c.Redelivered)
		fmt.Fprintf(tw, "  delivered\tup to seq %d, acknowledged up to seq %d\n", c.DeliveredSeq, c.AckFloorSeq)
	} else {
		fmt.Fprintf(tw, "consumer\t%s: absent\n", c.Name)
	}
	d := r.DLQ
	fmt.Fprintf(tw, "dlq\t%s\n", d.Name)
	fmt.Fprintf(tw, "  messages\t%d (%d bytes)\n", d.Messages, d.Bytes)
	if d.Messages > 0 {
		fmt.Fprintf(tw, "  oldest\tseq %d at %s\n", d.FirstSeq, fmtTime(d.FirstTime))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note\t%s\n", n)
	}
	return tw.Flush()
}
