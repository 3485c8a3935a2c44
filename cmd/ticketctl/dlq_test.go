package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// deadLetter publishes ev to the DLQ as the invalidator does: the original body and headers
// plus the dead-letter headers (extra ones included, as "be liberal" asks).
func (s *streams) deadLetter(ev *eventsv1.TicketChanged, extra map[string]string) uint64 {
	s.t.Helper()
	body, err := ticketevent.Marshal(ev)
	require.NoError(s.t, err)
	h := ticketevent.NATSHeader(ticketevent.Headers(ev, "/test"))
	for k, v := range extra {
		h[k] = []string{v}
	}
	return s.publishMsg(&nats.Msg{Subject: s.dlqPrefix + "." + ev.GetTicketId(), Header: h, Data: body})
}

func TestDLQListAndReplayRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	dlq := s.createDLQ()
	a, b := newID(), newID()
	evA := event(a, ticketevent.Updated, 2, "title")
	evB := event(b, ticketevent.Created, 1)
	// The original went through TICKETS with Nats-Msg-Id = ce-id; a replay under the same id
	// would be dropped as a duplicate inside the 2-minute window.
	origSeq := s.publish(evA)
	seqA := s.deadLetter(evA, map[string]string{
		HeaderDLQReason: "redis: connection refused", HeaderDLQOriginalSubject: s.prefix + "." + a,
		HeaderDLQOriginalSeq: "1", HeaderDLQDeliveries: "5", "X-Dlq-Consumer": "cache-invalidator",
	})
	seqB := s.deadLetter(evB, map[string]string{"Dlq-Reason": "decode: bad body"}) // no original subject

	// list, readable
	code, out, errOut := runCLI(t, s.env(), s.args("dlq", "list")...)
	require.Equal(t, exitOK, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Regexp(t, `^SEQ\s+TIME\s+TICKET\s+REPLAYS TO\s+REASON`, lines[0])
	assert.Regexp(t, `^1\s+\S+Z\s+`+a+`\s+`+s.prefix+`\.`+a+`\s+redis: connection refused\s+X-Dlq-Consumer=cache-invalidator dlq-deliveries=5 dlq-original-sequence=1$`, lines[1])
	assert.Regexp(t, `^2\s+\S+\s+`+b+`\s+`+s.prefix+`\.`+b+`\s+decode: bad body\s+-$`, lines[2])

	// list, JSON, limited
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "list", "--json", "--limit", "1")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "showing 1 of 2")
	var m dlqMessage
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	assert.Equal(t, seqA, m.Seq)
	assert.Equal(t, a, m.Ticket)
	assert.Equal(t, evA.GetEventId(), m.EventID)
	assert.Equal(t, "5", m.Headers[HeaderDLQDeliveries])

	// dry run changes nothing
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "1", "--dry-run")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "would replay DLQ seq 1 -> "+s.prefix+"."+a+" (msg id "+evA.GetEventId()+"-replay-1)")
	assertDLQHas(t, dlq, seqA, true)

	// replay one
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "1")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "replayed DLQ seq 1 -> "+s.prefix+"."+a+" ("+s.name+" seq 2, msg id")
	st, err := s.js.Stream(t.Context(), s.name)
	require.NoError(t, err)
	got, err := st.GetMsg(t.Context(), origSeq+1)
	require.NoError(t, err)
	assert.Equal(t, s.prefix+"."+a, got.Subject)
	assert.Equal(t, evA.GetEventId()+"-replay-1", got.Header.Get(jetstream.MsgIDHeader))
	assert.Equal(t, evA.GetEventId(), got.Header.Get(ticketevent.HeaderID), "the event keeps its CloudEvents id")
	assert.Equal(t, s.dlqName+":1", got.Header.Get(HeaderReplayOf))
	for k := range got.Header {
		assert.False(t, isDLQHeader(k), "dead-letter header %s was replayed", k)
	}
	back, err := ticketevent.Unmarshal(got.Header.Get(ticketevent.HeaderContentType), got.Data)
	require.NoError(t, err)
	assert.Equal(t, evA.GetEventId(), back.GetEventId())
	assertDLQHas(t, dlq, seqA, false)
	assertDLQHas(t, dlq, seqB, true)

	// a replayed seq is gone
	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "1")...)
	assert.Equal(t, exitRuntime, code)
	assert.Contains(t, errOut, "no message with seq 1 in "+s.dlqName)

	// replay the rest: B had no original-subject header, so it goes to <prefix>.<ticket>
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--all")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "replayed DLQ seq 2 -> "+s.prefix+"."+b)
	assert.Contains(t, errOut, "replayed 1 message(s)")
	got, err = st.GetLastMsgForSubject(t.Context(), s.prefix+"."+b)
	require.NoError(t, err)
	assert.Equal(t, evB.GetEventId()+"-replay-2", got.Header.Get(jetstream.MsgIDHeader))
	assertDLQHas(t, dlq, seqB, false)

	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "list")...)
	require.Equal(t, exitOK, code)
	assert.Contains(t, errOut, s.dlqName+" is empty")
}

func TestDLQReplayRefusesASubjectOutsideTheStream(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	dlq := s.createDLQ()
	ev := event(newID(), ticketevent.Created, 1)
	seq := s.deadLetter(ev, map[string]string{HeaderDLQOriginalSubject: "elsewhere." + ev.GetTicketId()})
	code, _, errOut := runCLI(t, s.env(), s.args("dlq", "replay", "--all")...)
	assert.Equal(t, exitRuntime, code)
	assert.Contains(t, errOut, `original subject "elsewhere.`)
	assert.Contains(t, errOut, "replayed 0 message(s)")
	assertDLQHas(t, dlq, seq, true)
}

func TestDLQWithoutDLQStream(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	code, out, errOut := runCLI(t, s.env(), s.args("dlq", "list")...)
	assert.Equal(t, exitOK, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "does not exist: nothing has been dead-lettered")

	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--all")...)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, errOut, "nothing to replay")

	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "3")...)
	assert.Equal(t, exitRuntime, code)
	assert.Contains(t, errOut, "DLQ stream "+s.dlqName+" does not exist")
}

func assertDLQHas(t *testing.T, dlq jetstream.Stream, seq uint64, want bool) {
	t.Helper()
	_, err := dlq.GetMsg(t.Context(), seq)
	if want {
		assert.NoError(t, err, "DLQ seq %d should still be there", seq)
		return
	}
	assert.True(t, errors.Is(err, jetstream.ErrMsgNotFound), "DLQ seq %d should be gone: %v", seq, err)
}
