package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func statsJSON(t *testing.T, s *streams, extra ...string) statsReport {
	t.Helper()
	code, out, errOut := runCLI(t, s.env(), s.args(append([]string{"events", "stats", "--json"}, extra...)...)...)
	if code != exitOK {
		t.Fatalf("events stats --json %q: exit code %d, want %d; stderr=%s", extra, code, exitOK, errOut)
	}
	var r statsReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("decode the report %s: %v", out, err)
	}
	return r
}

func TestStatsCountsStreamConsumerAndDLQ(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	id := newID()
	for v := int64(1); v <= 3; v++ {
		s.publish(event(id, ticketevent.Updated, v, "title"))
	}

	// Nothing consumes yet, and nothing was dead-lettered.
	r := statsJSON(t, s)
	if r.Stream.Messages != 3 || r.Stream.FirstSeq != 1 || r.Stream.LastSeq != 3 {
		t.Errorf("stream messages %d, seq %d..%d; want 3, 1..3", r.Stream.Messages, r.Stream.FirstSeq, r.Stream.LastSeq)
	}
	if r.Stream.LastTime.IsZero() {
		t.Error("stream last_time is zero, want the time of seq 3")
	}
	if r.Consumer.Exists {
		t.Error("the consumer is reported as existing before anyone created it")
	}
	if r.DLQ.Exists || r.DLQ.Messages != 0 {
		t.Errorf("DLQ exists=%v with %d messages, want absent with 0", r.DLQ.Exists, r.DLQ.Messages)
	}
	if len(r.Notes) != 2 {
		t.Fatalf("notes %q, want 2", r.Notes)
	}
	if want := "consumer cache-invalidator does not exist"; !strings.Contains(r.Notes[0], want) {
		t.Errorf("note 0 %q lacks %q", r.Notes[0], want)
	}
	if want := "DLQ stream " + s.dlqName + " does not exist"; !strings.Contains(r.Notes[1], want) {
		t.Errorf("note 1 %q lacks %q", r.Notes[1], want)
	}

	// A durable consumer like the invalidator's: one message redelivered after a nak and
	// not yet acked, two never delivered. MaxAckPending 1 keeps the server from handing out
	// seq 2 before the nak of seq 1 arrives (acks and pulls race on the server).
	ctx := t.Context()
	cons, err := s.js.CreateOrUpdateConsumer(ctx, s.name, jetstream.ConsumerConfig{
		Durable: ticketevent.DefaultConsumer, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: s.prefix + ".>",
		MaxAckPending: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	first, err := cons.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Nak(); err != nil {
		t.Fatal(err)
	}
	again, err := cons.Next()
	if err != nil {
		t.Fatal(err)
	}
	meta, err := again.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	if meta.NumDelivered != 2 {
		t.Fatalf("seq %d delivered %d times, want 2", meta.Sequence.Stream, meta.NumDelivered)
	}

	s.createDLQ()
	if _, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: s.dlqPrefix + "." + id, Data: []byte("{}")}); err != nil {
		t.Fatal(err)
	}

	r = statsJSON(t, s)
	if !r.Consumer.Exists {
		t.Fatalf("consumer %s reported missing: %+v", ticketevent.DefaultConsumer, r)
	}
	c := r.Consumer
	if c.Pending != 2 || c.AckPending != 1 || c.Redelivered != 1 || c.DeliveredSeq != 1 || c.AckFloorSeq != 0 {
		t.Errorf("consumer pending %d, ack pending %d, redelivered %d, delivered seq %d, ack floor %d; want 2, 1, 1, 1, 0",
			c.Pending, c.AckPending, c.Redelivered, c.DeliveredSeq, c.AckFloorSeq)
	}
	if !r.DLQ.Exists || r.DLQ.Messages != 1 {
		t.Errorf("DLQ exists=%v with %d messages, want present with 1", r.DLQ.Exists, r.DLQ.Messages)
	}
	if len(r.Notes) != 0 {
		t.Errorf("notes %q, want none", r.Notes)
	}

	code, out, errOut := runCLI(t, s.env(), s.args("events", "stats")...)
	if code != exitOK {
		t.Fatalf("events stats: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	for _, re := range []string{
		`(?m)^stream\s+` + s.name + `$`,
		`(?m)^  messages\s+3 \(\d+ bytes\)$`,
		`(?m)^consumer\s+cache-invalidator$`,
		`(?m)^  pending\s+2 `,
		`(?m)^  ack pending\s+1 `,
		`(?m)^  redelivered\s+1$`,
		`(?m)^dlq\s+` + s.dlqName + `$`,
		`(?m)^  messages\s+1 \(`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no match for %s in:\n%s", re, out)
		}
	}

	// Another consumer name that does not exist is a note, not an error.
	r = statsJSON(t, s, "--consumer", "nobody")
	if r.Consumer.Exists {
		t.Error("consumer nobody reported as existing")
	}
	if len(r.Notes) == 0 {
		t.Fatal("no notes, want one about consumer nobody")
	}
	if want := "consumer nobody does not exist"; !strings.Contains(r.Notes[0], want) {
		t.Errorf("note 0 %q lacks %q", r.Notes[0], want)
	}
}
