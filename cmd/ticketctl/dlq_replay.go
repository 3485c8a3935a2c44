package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func (a *app) dlqReplayCmd(sf *streamFlags) *cobra.Command {
	var (
		seq         uint64
		all, dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "replay (--seq N | --all)",
		Short: "Publish dead-lettered events again to their original subject",
		Long: `Publish a dead letter's body and headers again on stream TICKETS, to the subject in its
` + ticketevent.HeaderDLQOriginalSubject + ` header (else <subject-prefix>.<ticket_id> from the DLQ subject).
The dead-letter headers are dropped; the copy gets a new Nats-Msg-Id, <ce-id>-replay-<dlq seq>,
so the stream's duplicate window does not swallow it, and a ` + ticketevent.HeaderReplayOf + ` header.
The dead letter is deleted from TICKETS_DLQ only after TICKETS acknowledged the copy.
--all replays the messages present when it starts, oldest first, and stops at the first error.`,
		Example: `  ticketctl dlq replay --seq 12 --dry-run
  ticketctl dlq replay --seq 12
  ticketctl dlq replay --all`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			if err := sf.validate(); err != nil {
				return err
			}
			if !all && seq == 0 {
				return usagef("--seq must be at least 1")
			}
			return a.dlqReplay(cmd.Context(), sf, seq, dryRun)
		}),
	}
	f := cmd.Flags()
	f.Uint64Var(&seq, "seq", 0, "replay the DLQ message with this sequence")
	f.BoolVar(&all, "all", false, "replay every message in the DLQ")
	f.BoolVar(&dryRun, "dry-run", false, "print what would be replayed, change nothing")
	cmd.MarkFlagsOneRequired("seq", "all")
	cmd.MarkFlagsMutuallyExclusive("seq", "all")
	return cmd
}

// dlqReplay replays one message (seq > 0) or all of them (seq == 0).
func (a *app) dlqReplay(ctx context.Context, sf *streamFlags, seq uint64, dryRun bool) error {
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
		if seq > 0 {
			return fmt.Errorf("DLQ stream %s does not exist on NATS at %s", sf.dlqStream, conn.url)
		}
		fmt.Fprintf(a.stderr, "ticketctl: DLQ stream %s does not exist: nothing to replay\n", sf.dlqStream)
		return nil
	}
	r := replayer{a: a, conn: conn, dlq: st, sf: sf, dryRun: dryRun}
	if seq > 0 {
		gctx, cancel := context.WithTimeout(ctx, sf.timeout)
		m, err := st.GetMsg(gctx, seq)
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("no message with seq %d in %s", seq, sf.dlqStream)
		}
		if err != nil {
			return fmt.Errorf("read DLQ seq %d: %w", seq, err)
		}
		return r.replay(ctx, m)
	}
	// The messages present now, not the ones a failing replay may dead-letter again meanwhile.
	err = eachDLQ(ctx, st, info.State.FirstSeq, info.State.LastSeq, sf.timeout, func(m *jetstream.RawStreamMsg) (bool, error) {
		return true, r.replay(ctx, m)
	})
	verb := "replayed"
	if dryRun {
		verb = "would replay"
	}
	fmt.Fprintf(a.stderr, "ticketctl: %s %d message(s)\n", verb, r.done)
	return err
}

type replayer struct {
	a      *app
	conn   *natsConn
	dlq    jetstream.Stream
	sf     *streamFlags
	dryRun bool
	done   int
}

func (r *replayer) replay(ctx context.Context, m *jetstream.RawStreamMsg) error {
	dm := toDLQMessage(m, r.sf)
	if !strings.HasPrefix(dm.OriginalSubject, r.sf.subjectPrefix+".") {
		return fmt.Errorf("DLQ seq %d: original subject %q is not under --subject-prefix %s; not replayed",
			m.Sequence, dm.OriginalSubject, r.sf.subjectPrefix)
	}
	msgID := replayMsgID(dm.EventID, r.sf.dlqStream, m.Sequence)
	out := &nats.Msg{Subject: dm.OriginalSubject, Header: replayHeaders(m.Header), Data: m.Data}
	out.Header[jetstream.MsgIDHeader] = []string{msgID}
	out.Header[ticketevent.HeaderReplayOf] = []string{fmt.Sprintf("%s:%d", r.sf.dlqStream, m.Sequence)}
	if r.dryRun {
		r.done++
		_, err := fmt.Fprintf(r.a.stdout, "would replay DLQ seq %d -> %s (msg id %s)\n", m.Sequence, out.Subject, msgID)
		return err
	}

	pctx, cancel := context.WithTimeout(ctx, r.sf.timeout)
	defer cancel()
	ack, err := r.conn.js.PublishMsg(pctx, out, jetstream.WithExpectStream(r.sf.stream))
	if err != nil {
		return fmt.Errorf("DLQ seq %d: publish to %s: %w", m.Sequence, out.Subject, err)
	}
	// Only now may the dead letter go: a crash before this line leaves it in the DLQ, and a
	// second replay within the duplicate window is dropped by its Nats-Msg-Id.
	if err := r.dlq.DeleteMsg(pctx, m.Sequence); err != nil {
		return fmt.Errorf("DLQ seq %d: replayed as %s seq %d, but deleting it from %s failed: %w",
			m.Sequence, ack.Stream, ack.Sequence, r.sf.dlqStream, err)
	}
	r.done++
	note := ""
	if ack.Duplicate {
		note = ", already replayed before"
	}
	_, err = fmt.Fprintf(r.a.stdout, "replayed DLQ seq %d -> %s (%s seq %d, msg id %s%s)\n",
		m.Sequence, out.Subject, ack.Stream, ack.Sequence, msgID, note)
	return err
}

// replayMsgID is stable per dead letter, so replaying the same one twice inside the duplicate
// window publishes it once.
func replayMsgID(eventID, dlqStream string, seq uint64) string {
	if eventID == "" {
		return fmt.Sprintf("%s-%d-replay", dlqStream, seq)
	}
	return fmt.Sprintf("%s-replay-%d", eventID, seq)
}

// replayHeaders are the original message's headers: without the dead-letter bookkeeping, and
// without the Nats-* headers, which belong to the DLQ publish (message id, expectations).
func replayHeaders(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, v := range h {
		if ticketevent.IsDLQHeader(k) || strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
