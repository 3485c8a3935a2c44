package main

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func statsJSON(t *testing.T, s *streams, extra ...string) statsReport {
	t.Helper()
	code, out, errOut := runCLI(t, s.env(), s.args(append([]string{"events", "stats", "--json"}, extra...)...)...)
	require.Equal(t, exitOK, code, errOut)
	var r statsReport
	require.NoError(t, json.Unmarshal([]byte(out), &r), out)
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
	assert.Equal(t, uint64(3), r.Stream.Messages)
	assert.Equal(t, uint64(1), r.Stream.FirstSeq)
	assert.Equal(t, uint64(3), r.Stream.LastSeq)
	assert.False(t, r.Stream.LastTime.IsZero())
	assert.False(t, r.Consumer.Exists)
	assert.False(t, r.DLQ.Exists)
	assert.Zero(t, r.DLQ.Messages)
	require.Len(t, r.Notes, 2)
	assert.Contains(t, r.Notes[0], "consumer cache-invalidator does not exist")
	assert.Contains(t, r.Notes[1], "DLQ stream "+s.dlqName+" does not exist")

	// A durable consumer like the invalidator's: one message redelivered after a nak and
	// not yet acked, two never delivered. MaxAckPending 1 keeps the server from handing out
	// seq 2 before the nak of seq 1 arrives (acks and pulls race on the server).
	ctx := t.Context()
	cons, err := s.js.CreateOrUpdateConsumer(ctx, s.name, jetstream.ConsumerConfig{
		Durable: DefaultConsumer, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: s.prefix + ".>",
		MaxAckPending: 1,
	})
	require.NoError(t, err)
	first, err := cons.Next()
	require.NoError(t, err)
	require.NoError(t, first.Nak())
	again, err := cons.Next()
	require.NoError(t, err)
	meta, err := again.Metadata()
	require.NoError(t, err)
	require.Equal(t, uint64(2), meta.NumDelivered)

	s.createDLQ()
	_, err = s.js.PublishMsg(ctx, &nats.Msg{Subject: s.dlqPrefix + "." + id, Data: []byte("{}")})
	require.NoError(t, err)

	r = statsJSON(t, s)
	require.True(t, r.Consumer.Exists)
	assert.Equal(t, uint64(2), r.Consumer.Pending)
	assert.Equal(t, 1, r.Consumer.AckPending)
	assert.Equal(t, 1, r.Consumer.Redelivered)
	assert.Equal(t, uint64(1), r.Consumer.DeliveredSeq)
	assert.Zero(t, r.Consumer.AckFloorSeq)
	assert.True(t, r.DLQ.Exists)
	assert.Equal(t, uint64(1), r.DLQ.Messages)
	assert.Empty(t, r.Notes)

	code, out, errOut := runCLI(t, s.env(), s.args("events", "stats")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Regexp(t, `(?m)^stream\s+`+s.name+`$`, out)
	assert.Regexp(t, `(?m)^  messages\s+3 \(\d+ bytes\)$`, out)
	assert.Regexp(t, `(?m)^consumer\s+cache-invalidator$`, out)
	assert.Regexp(t, `(?m)^  pending\s+2 `, out)
	assert.Regexp(t, `(?m)^  ack pending\s+1 `, out)
	assert.Regexp(t, `(?m)^  redelivered\s+1$`, out)
	assert.Regexp(t, `(?m)^dlq\s+`+s.dlqName+`$`, out)
	assert.Regexp(t, `(?m)^  messages\s+1 \(`, out)

	// Another consumer name that does not exist is a note, not an error.
	r = statsJSON(t, s, "--consumer", "nobody")
	assert.False(t, r.Consumer.Exists)
	assert.Contains(t, r.Notes[0], "consumer nobody does not exist")
}
