package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func (a *app) dlqCmd() *cobra.Command {
	var sf streamFlags
	cmd := groupCmd("dlq", "List and replay dead-lettered events",
		`The cache-invalidator moves an event it could not apply after its last delivery to stream
TICKETS_DLQ (subject tickets.dlq.<ticket_id>), with the original body and headers plus
`+ticketevent.HeaderDLQReason+`, `+ticketevent.HeaderDLQOriginalSubject+`, `+ticketevent.HeaderDLQOriginalSequence+` and `+ticketevent.HeaderDLQDeliveries+`.
List them, fix the cause, then replay them onto TICKETS.`)
	sf.register(cmd)
	cmd.AddCommand(a.dlqListCmd(&sf), a.dlqReplayCmd(&sf))
	return cmd
}

// dlqMessage is one dead letter as list shows it.
type dlqMessage struct {
	Seq             uint64            `json:"seq"`
	Time            time.Time         `json:"time"`
	Subject         string            `json:"subject"`
	Ticket          string            `json:"ticket"`
	OriginalSubject string            `json:"original_subject"`
	Reason          string            `json:"reason"`
	EventID         string            `json:"event_id,omitempty"`
	Headers         map[string]string `json:"dlq_headers"`
}

func toDLQMessage(m *jetstream.RawStreamMsg, sf *streamFlags) dlqMessage {
	ticket := m.Subject[strings.LastIndex(m.Subject, ".")+1:]
	orig := headerGet(m.Header, ticketevent.HeaderDLQOriginalSubject)
	if orig == "" {
		orig = sf.subject(ticket)
	}
	return dlqMessage{
		Seq: m.Sequence, Time: m.Time, Subject: m.Subject, Ticket: ticket, OriginalSubject: orig,
		Reason:  headerGet(m.Header, ticketevent.HeaderDLQReason),
		EventID: headerGet(m.Header, ticketevent.HeaderID),
		Headers: dlqHeaders(m.Header),
	}
}

func (a *app) dlqListCmd(sf *streamFlags) *cobra.Command {
	var (
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead-lettered events, oldest first",
		Long: `List the messages in TICKETS_DLQ, oldest first: sequence, time, ticket, the subject a
replay publishes to, the reason, and every other dead-letter header (dlq-*, x-dlq*).
An absent DLQ stream means nothing was dead-lettered: a note, exit 0.`,
		Example: `  ticketctl dlq list
  ticketctl dlq list --limit 0 --json | jq -r .reason | sort | uniq -c`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if err := sf.validate(); err != nil {
				return err
			}
			if limit < 0 {
				return usagef("--limit must not be negative, got %d", limit)
			}
			return a.dlqList(cmd.Context(), sf, limit, asJSON)
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "show at most N messages (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per message")
	return cmd
}

func (a *app) dlqList(ctx context.Context, sf *streamFlags, limit int, asJSON bool) error {
	conn, err := a.connectNATS(sf.timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	st, info, err := openDLQ(ctx, conn, sf)
	if err != nil {
		return err
	}
	if st == nil {
		fmt.Fprintf(a.stderr, "ticketctl: DLQ stream %s does not exist: nothing has been dead-lettered\n", sf.dlqStream)
		return nil
	}
	var msgs []dlqMessage
	err = eachDLQ(ctx, st, info.State.FirstSeq, info.State.LastSeq, sf.timeout, func(m *jetstream.RawStreamMsg) (bool, error) {
		msgs = append(msgs, toDLQMessage(m, sf))
		return limit == 0 || len(msgs) < limit, nil
	})
	if err != nil {
		return err
	}
	if uint64(len(msgs)) < info.State.Msgs {
		fmt.Fprintf(a.stderr, "ticketctl: showing %d of %d messages (--limit)\n", len(msgs), info.State.Msgs)
	}
	if asJSON {
		for _, m := range msgs {
			if err := a.printJSON(m); err != nil {
				return err
			}
		}
		return nil
	}
	if len(msgs) == 0 {
		fmt.Fprintf(a.stderr, "ticketctl: %s is empty\n", sf.dlqStream)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tTICKET\tREPLAYS TO\tREASON\tOTHER HEADERS")
	for _, m := range msgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Seq, fmtTime(m.Time), m.Ticket, m.OriginalSubject,
			orDash(m.Reason), otherHeaders(m.Headers))
	}
	return tw.Flush()
}

// otherHeaders prints the dead-letter headers not already in their own column.
func otherHeaders(h map[string]string) string {
	var parts []string
	for k, v := range h {
		switch strings.ToLower(k) {
		case ticketevent.HeaderDLQReason, ticketevent.HeaderDLQOriginalSubject:
			continue
		}
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

// openDLQ returns the DLQ stream and its state, or nil (and a note on stderr) when it does
// not exist: nothing was ever dead-lettered.
func openDLQ(ctx context.Context, conn *natsConn, sf *streamFlags) (jetstream.Stream, *jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, sf.timeout)
	defer cancel()
	st, err := conn.js.Stream(ctx, sf.dlqStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s on NATS at %s: %w", sf.dlqStream, conn.url, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("stream %s: %w", sf.dlqStream, err)
	}
	return st, info, nil
}

// eachDLQ calls fn with every message from seq first to last, skipping the gaps that deleted
// (replayed) messages leave, until fn returns false. The server finds the next stored message
// itself, so a DLQ with many gaps costs one request per message, not one per sequence.
func eachDLQ(ctx context.Context, st jetstream.Stream, first, last uint64, timeout time.Duration,
	fn func(*jetstream.RawStreamMsg) (bool, error),
) error {
	for seq := first; seq != 0 && seq <= last; {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		m, err := st.GetMsg(rctx, seq, jetstream.WithGetMsgSubject(">"))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read DLQ at seq %d: %w", seq, err)
		}
		if m.Sequence > last {
			return nil
		}
		more, err := fn(m)
		if err != nil || !more {
			return err
		}
		seq = m.Sequence + 1
	}
	return nil
}
