package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

func (a *app) eventsCmd() *cobra.Command {
	var sf streamFlags
	cmd := groupCmd("events", "Follow the event stream and look at its consumer",
		`Follow the TicketChanged events on stream TICKETS (tail) and see the stream, the
cache-invalidator's consumer and the dead-letter queue at a glance (stats).`)
	sf.register(cmd)
	cmd.AddCommand(a.tailCmd(&sf), a.statsCmd(&sf))
	return cmd
}

type tailOptions struct {
	ticket    string
	change    string
	since     time.Duration
	sinceTime string
	seq       uint64
	all       bool
	count     int
	json      bool
}

func (a *app) tailCmd(sf *streamFlags) *cobra.Command {
	var o tailOptions
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Print the events as they arrive, one line each",
		Long: `Follow the stream with an ordered consumer: ephemeral, in memory, never acknowledging,
so it never disturbs the durable "cache-invalidator" consumer. By default only events
published from now on are shown; --since, --since-time, --seq or --all start earlier.

Each line: occurred_at (UTC, milliseconds), ticket id, change, version, changed fields,
actor, correlation id. With --json: one JSON object per line with the stream sequence,
subject, headers and the event (protobuf JSON mapping, proto field names).
A message that does not decode is reported on stderr with its sequence; tail goes on.
On a terminal the change is coloured and the time dimmed; piped, with --json, or with NO_COLOR
set (any value), nothing is.
Ctrl-C ends it with exit code 0.`,
		Example: `  ticketctl events tail
  ticketctl events tail --ticket 01936f4e-8a1c-7c3e-9a57-3f1d2b9c0e11 --since 1h
  ticketctl events tail --change deleted --since-time 2026-11-26T10:00:00Z
  ticketctl events tail --seq 1 --count 10 --json | jq .event.changed_fields`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if err := sf.validate(); err != nil {
				return err
			}
			cfg, change, err := o.consumerConfig(cmd, sf)
			if err != nil {
				return err
			}
			return a.tail(cmd.Context(), sf, cfg, change, o)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&o.ticket, "ticket", "", "only this ticket's events (filters by subject <prefix>.<id>)")
	f.StringVar(&o.change, "change", "", "only this kind of change: created, updated or deleted")
	f.DurationVar(&o.since, "since", 0, "start with the events stored in the last DURATION, e.g. 10m")
	f.StringVar(&o.sinceTime, "since-time", "", "start with the events stored at or after this RFC 3339 time")
	f.Uint64Var(&o.seq, "seq", 0, "start at this stream sequence")
	f.BoolVar(&o.all, "all", false, "start at the beginning of the stream")
	f.IntVar(&o.count, "count", 0, "stop after N events (0: until Ctrl-C)")
	f.BoolVar(&o.json, "json", false, "print one JSON object per event")
	cmd.MarkFlagsMutuallyExclusive("since", "since-time", "seq", "all")
	completeValues(cmd, "change", changeValues)
	return cmd
}

// consumerConfig checks the flags and turns them into the ordered consumer's configuration
// and the change to keep (CHANGE_UNSPECIFIED keeps all).
func (o tailOptions) consumerConfig(cmd *cobra.Command, sf *streamFlags) (jetstream.OrderedConsumerConfig, eventsv1.Change, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{sf.subjectPrefix + ".>"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		// Gone a minute after the terminal closes, should Ctrl-C not reach the server.
		InactiveThreshold: time.Minute,
	}
	var change eventsv1.Change
	if o.change != "" {
		v, ok := eventsv1.Change_value[strings.ToUpper(o.change)]
		if !ok || v == 0 {
			return cfg, 0, usagef("--change %q: want created, updated or deleted", o.change)
		}
		change = eventsv1.Change(v)
	}
	if cmd.Flags().Changed("ticket") {
		if !subjectTokenRe.MatchString(o.ticket) {
			return cfg, 0, usagef("--ticket %q: not a ticket id", o.ticket)
		}
		cfg.FilterSubjects = []string{sf.subject(o.ticket)}
	}
	if o.count < 0 {
		return cfg, 0, usagef("--count must not be negative, got %d", o.count)
	}
	f := cmd.Flags()
	switch {
	case f.Changed("since"):
		if o.since <= 0 {
			return cfg, 0, usagef("--since must be positive, got %s", o.since)
		}
		start := time.Now().Add(-o.since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	case f.Changed("since-time"):
		start, err := time.Parse(time.RFC3339Nano, o.sinceTime)
		if err != nil {
			return cfg, 0, usagef("--since-time %q: want an RFC 3339 time such as 2026-11-26T10:00:00Z", o.sinceTime)
		}
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	case f.Changed("seq"):
		if o.seq == 0 {
			return cfg, 0, usagef("--seq must be at least 1")
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, o.seq
	case o.all:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	return cfg, change, nil
}

func (a *app) tail(ctx context.Context, sf *streamFlags, cfg jetstream.OrderedConsumerConfig, change eventsv1.Change, o tailOptions) error {
	conn, err := a.connectNATS(sf.timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	f, err := followStream(ctx, conn, sf, cfg)
	if err != nil {
		return err
	}
	defer f.close()
	// The consumer exists on the server from here on: anything published now is shown.
	fmt.Fprintf(a.stderr, "ticketctl: following %s (%s) from %s; Ctrl-C to stop\n",
		sf.stream, cfg.FilterSubjects[0], startDescription(cfg))

	p := eventPrinter{w: a.stdout, json: o.json, color: !o.json && a.useColor(a.stdout)}
	shown := 0
	for o.count == 0 || shown < o.count {
		m, err := f.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // Ctrl-C is how tail is meant to end
			}
			return err
		}
		if m.decodeErr != nil {
			fmt.Fprintf(a.stderr, "ticketctl: warning: %v\n", m.decodeErr)
			continue
		}
		if change != eventsv1.Change_CHANGE_UNSPECIFIED && m.ev.GetChange() != change {
			continue
		}
		if err := p.print(m.seq, m.subject, m.header, m.ev); err != nil {
			return err
		}
		shown++
	}
	return nil
}

// follower reads the events stream with an ordered consumer; tail and the live view share it.
type follower struct {
	name    string
	st      jetstream.Stream
	cons    jetstream.Consumer
	it      jetstream.MessagesContext
	timeout time.Duration
}

// streamMsg is one message read by a follower: the event, or why it did not decode.
type streamMsg struct {
	seq       uint64
	subject   string
	header    nats.Header
	ev        *eventsv1.TicketChanged
	decodeErr error // set instead of ev; the message is skipped, the follower goes on
}

// followStream creates the ordered consumer. When it returns, the consumer exists on the
// server: whatever is published from then on is delivered.
func followStream(ctx context.Context, conn *natsConn, sf *streamFlags, cfg jetstream.OrderedConsumerConfig) (*follower, error) {
	sctx, cancel := context.WithTimeout(ctx, sf.timeout)
	defer cancel()
	st, err := conn.stream(sctx, sf.stream)
	if err != nil {
		return nil, err
	}
	cons, err := st.OrderedConsumer(sctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ordered consumer on %s: %w", sf.stream, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("ordered consumer on %s: %w", sf.stream, err)
	}
	return &follower{name: sf.stream, st: st, cons: cons, it: it, timeout: sf.timeout}, nil
}

// next waits for the next message. An error means the follower is done (ctx ended or the
// stream cannot be read); a message that does not decode is not an error.
func (f *follower) next(ctx context.Context) (streamMsg, error) {
	msg, err := f.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return streamMsg{}, fmt.Errorf("reading %s: %w", f.name, err)
	}
	meta, err := msg.Metadata()
	if err != nil {
		return streamMsg{}, fmt.Errorf("reading %s: %w", f.name, err)
	}
	m := streamMsg{seq: meta.Sequence.Stream, subject: msg.Subject(), header: msg.Headers()}
	m.ev, err = ticketevent.Unmarshal(ticketevent.ContentType(msg.Headers()), msg.Data())
	if err != nil {
		m.ev, m.decodeErr = nil, fmt.Errorf("seq %d (%s) skipped: %w", m.seq, m.subject, err)
	}
	return m, nil
}

// close stops the iterator and deletes the consumer. The server would drop it after
// InactiveThreshold anyway, but stats and dashboards count consumers.
func (f *follower) close() {
	f.it.Stop()
	if ci := f.cons.CachedInfo(); ci != nil {
		dctx, cancel := context.WithTimeout(context.Background(), f.timeout)
		_ = f.st.DeleteConsumer(dctx, ci.Name)
		cancel()
	}
}

func startDescription(cfg jetstream.OrderedConsumerConfig) string {
	switch cfg.DeliverPolicy {
	case jetstream.DeliverAllPolicy:
		return "the first message"
	case jetstream.DeliverByStartSequencePolicy:
		return fmt.Sprintf("seq %d", cfg.OptStartSeq)
	case jetstream.DeliverByStartTimePolicy:
		return cfg.OptStartTime.UTC().Format(time.RFC3339)
	}
	return "new messages"
}
