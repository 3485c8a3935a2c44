package main

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// deadLetter publishes ev to the DLQ as the invalidator does: the original body and headers
// plus the dead-letter headers (extra ones included, as "be liberal" asks).
func (s *streams) deadLetter(ev *eventsv1.TicketChanged, extra map[string]string) uint64 {
	s.t.Helper()
	body, err := ticketevent.Marshal(ev)
	if err != nil {
		s.t.Fatal(err)
	}
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
		ticketevent.HeaderDLQReason: "redis: connection refused", ticketevent.HeaderDLQOriginalSubject: s.prefix + "." + a,
		ticketevent.HeaderDLQOriginalSequence: "1", ticketevent.HeaderDLQDeliveries: "5", "X-Dlq-Consumer": "cache-invalidator",
	})
	seqB := s.deadLetter(evB, map[string]string{"Dlq-Reason": "decode: bad body"}) // no original subject

	// list, readable
	code, out, errOut := runCLI(t, s.env(), s.args("dlq", "list")...)
	if code != exitOK {
		t.Fatalf("dlq list: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("dlq list printed %d lines, want 3:\n%s", len(lines), out)
	}
	for i, re := range []string{
		`^SEQ\s+TIME\s+TICKET\s+REPLAYS TO\s+REASON`,
		`^1\s+\S+Z\s+` + a + `\s+` + s.prefix + `\.` + a + `\s+redis: connection refused\s+X-Dlq-Consumer=cache-invalidator dlq-deliveries=5 dlq-original-sequence=1$`,
		`^2\s+\S+\s+` + b + `\s+` + s.prefix + `\.` + b + `\s+decode: bad body\s+-$`,
	} {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i, lines[i], re)
		}
	}

	// list, JSON, limited
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "list", "--json", "--limit", "1")...)
	if code != exitOK {
		t.Fatalf("dlq list --json: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := "showing 1 of 2"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	var m dlqMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if m.Seq != seqA || m.Ticket != a || m.EventID != evA.GetEventId() || m.Headers[ticketevent.HeaderDLQDeliveries] != "5" {
		t.Errorf("dlq list --json = seq %d, ticket %s, event id %s, %s %q; want %d, %s, %s, %q",
			m.Seq, m.Ticket, m.EventID, ticketevent.HeaderDLQDeliveries, m.Headers[ticketevent.HeaderDLQDeliveries], seqA, a, evA.GetEventId(), "5")
	}

	// dry run changes nothing
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "1", "--dry-run")...)
	if code != exitOK {
		t.Fatalf("dlq replay --dry-run: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := "would replay DLQ seq 1 -> " + s.prefix + "." + a + " (msg id " + evA.GetEventId() + "-replay-1)"; !strings.Contains(out, want) {
		t.Errorf("stdout %q lacks %q", out, want)
	}
	assertDLQHas(t, dlq, seqA, true)

	// replay one
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "1")...)
	if code != exitOK {
		t.Fatalf("dlq replay --seq 1: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := "replayed DLQ seq 1 -> " + s.prefix + "." + a + " (" + s.name + " seq 2, msg id"; !strings.Contains(out, want) {
		t.Errorf("stdout %q lacks %q", out, want)
	}
	st, err := s.js.Stream(t.Context(), s.name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.GetMsg(t.Context(), origSeq+1)
	if err != nil {
		t.Fatalf("the replayed message (seq %d): %v", origSeq+1, err)
	}
	if want := s.prefix + "." + a; got.Subject != want {
		t.Errorf("replayed to %s, want %s", got.Subject, want)
	}
	if got, want := got.Header.Get(jetstream.MsgIDHeader), evA.GetEventId()+"-replay-1"; got != want {
		t.Errorf("%s %q, want %q", jetstream.MsgIDHeader, got, want)
	}
	if got, want := got.Header.Get(ticketevent.HeaderID), evA.GetEventId(); got != want {
		t.Errorf("%s %q, want %q: the event keeps its CloudEvents id", ticketevent.HeaderID, got, want)
	}
	if got, want := got.Header.Get(ticketevent.HeaderReplayOf), s.dlqName+":1"; got != want {
		t.Errorf("%s %q, want %q", ticketevent.HeaderReplayOf, got, want)
	}
	for k := range got.Header {
		if ticketevent.IsDLQHeader(k) {
			t.Errorf("dead-letter header %s was replayed", k)
		}
	}
	back, err := ticketevent.Unmarshal(got.Header.Get(ticketevent.HeaderContentType), got.Data)
	if err != nil {
		t.Fatalf("decode the replayed body: %v", err)
	}
	if back.GetEventId() != evA.GetEventId() {
		t.Errorf("replayed body has event id %s, want %s", back.GetEventId(), evA.GetEventId())
	}
	assertDLQHas(t, dlq, seqA, false)
	assertDLQHas(t, dlq, seqB, true)

	// a replayed seq is gone
	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "1")...)
	if code != exitRuntime {
		t.Errorf("replaying seq 1 again: exit code %d, want %d", code, exitRuntime)
	}
	if want := "no message with seq 1 in " + s.dlqName; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}

	// replay the rest: B had no original-subject header, so it goes to <prefix>.<ticket>
	code, out, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--all")...)
	if code != exitOK {
		t.Fatalf("dlq replay --all: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := "replayed DLQ seq 2 -> " + s.prefix + "." + b; !strings.Contains(out, want) {
		t.Errorf("stdout %q lacks %q", out, want)
	}
	if want := "replayed 1 message(s)"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
	got, err = st.GetLastMsgForSubject(t.Context(), s.prefix+"."+b)
	if err != nil {
		t.Fatalf("the replayed message on %s.%s: %v", s.prefix, b, err)
	}
	if got, want := got.Header.Get(jetstream.MsgIDHeader), evB.GetEventId()+"-replay-2"; got != want {
		t.Errorf("%s %q, want %q", jetstream.MsgIDHeader, got, want)
	}
	assertDLQHas(t, dlq, seqB, false)

	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "list")...)
	if code != exitOK {
		t.Fatalf("dlq list: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := s.dlqName + " is empty"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
}

func TestDLQReplayRefusesASubjectOutsideTheStream(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	dlq := s.createDLQ()
	ev := event(newID(), ticketevent.Created, 1)
	seq := s.deadLetter(ev, map[string]string{ticketevent.HeaderDLQOriginalSubject: "elsewhere." + ev.GetTicketId()})
	code, _, errOut := runCLI(t, s.env(), s.args("dlq", "replay", "--all")...)
	if code != exitRuntime {
		t.Errorf("exit code %d, want %d; stderr=%s", code, exitRuntime, errOut)
	}
	for _, want := range []string{`original subject "elsewhere.`, "replayed 0 message(s)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	assertDLQHas(t, dlq, seq, true)
}

func TestDLQWithoutDLQStream(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	code, out, errOut := runCLI(t, s.env(), s.args("dlq", "list")...)
	if code != exitOK {
		t.Errorf("dlq list: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if out != "" {
		t.Errorf("dlq list: stdout = %q, want empty", out)
	}
	if want := "does not exist: nothing has been dead-lettered"; !strings.Contains(errOut, want) {
		t.Errorf("dlq list: stderr %q lacks %q", errOut, want)
	}

	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--all")...)
	if code != exitOK {
		t.Errorf("dlq replay --all: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := "nothing to replay"; !strings.Contains(errOut, want) {
		t.Errorf("dlq replay --all: stderr %q lacks %q", errOut, want)
	}

	code, _, errOut = runCLI(t, s.env(), s.args("dlq", "replay", "--seq", "3")...)
	if code != exitRuntime {
		t.Errorf("dlq replay --seq 3: exit code %d, want %d; stderr=%s", code, exitRuntime, errOut)
	}
	if want := "DLQ stream " + s.dlqName + " does not exist"; !strings.Contains(errOut, want) {
		t.Errorf("dlq replay --seq 3: stderr %q lacks %q", errOut, want)
	}
}

func assertDLQHas(t *testing.T, dlq jetstream.Stream, seq uint64, want bool) {
	t.Helper()
	_, err := dlq.GetMsg(t.Context(), seq)
	if want {
		if err != nil {
			t.Errorf("DLQ seq %d should still be there: %v", seq, err)
		}
		return
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("DLQ seq %d should be gone: got %v, want %v", seq, err, jetstream.ErrMsgNotFound)
	}
}
