package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

func TestTailShowsEventsPublishedWhileItRuns(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	old := newID()
	s.publish(event(old, ticketevent.Created, 1)) // before tail: not shown by default

	mine, other := newID(), newID()
	r := startCLI(t, s.env(), s.args("events", "tail", "--ticket", mine, "--count", "2")...)
	r.waitFollowing(t)
	s.publish(event(other, ticketevent.Created, 1)) // another ticket: filtered by subject
	s.publish(event(mine, ticketevent.Created, 1))
	s.publish(event(mine, ticketevent.Updated, 2, "title", "status"))

	require.Equal(t, exitOK, r.wait(t), r.stderr.String())
	lines := strings.Split(strings.TrimSuffix(r.stdout.String(), "\n"), "\n")
	require.Len(t, lines, 2, r.stdout.String())
	assert.Contains(t, lines[0], "2026-11-26T10:05:00.654Z  "+mine+"  CREATED  v1")
	assert.Contains(t, lines[0], "fields=-")
	assert.Contains(t, lines[1], mine+"  UPDATED  v2")
	assert.Contains(t, lines[1], "fields=title,status")
	assert.Contains(t, lines[1], "actor=alice")
	assert.Contains(t, lines[1], "corr=req-"+mine[:8])
	assert.NotContains(t, r.stdout.String(), other)
	assert.NotContains(t, r.stdout.String(), old)
}

func TestTailFromSeqFiltersByChangeAndPrintsJSON(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	id := newID()
	s.publish(event(id, ticketevent.Created, 1))
	bad := s.publishMsg(&nats.Msg{Subject: s.prefix + "." + id, Data: []byte("{not json")})
	s.publish(event(id, ticketevent.Updated, 2, "priority"))
	del := event(id, ticketevent.Deleted, 3)
	delSeq := s.publish(del)

	code, out, errOut := runCLI(t, s.env(), s.args("events", "tail", "--seq", "1", "--change", "DELETED", "--count", "1", "--json")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, fmt.Sprintf("warning: seq %d", bad), "an undecodable message is reported with its sequence")

	var line struct {
		Seq     uint64            `json:"seq"`
		Subject string            `json:"subject"`
		Headers map[string]string `json:"headers"`
		Event   map[string]any    `json:"event"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &line), out)
	assert.Equal(t, delSeq, line.Seq)
	assert.Equal(t, s.prefix+"."+id, line.Subject)
	assert.Equal(t, del.GetEventId(), line.Headers["ce-id"])
	assert.Equal(t, "DELETED", line.Event["change"])
	assert.Equal(t, id, line.Event["ticket_id"], "proto field names")
	assert.Equal(t, "3", line.Event["version"])
	assert.Equal(t, "req-"+id[:8], line.Event["correlation_id"])

	// From a later sequence the earlier events are not shown.
	code, out, errOut = runCLI(t, s.env(), s.args("events", "tail", "--seq", fmt.Sprint(bad+1), "--count", "2")...)
	require.Equal(t, exitOK, code, errOut)
	assert.NotContains(t, out, "CREATED")
	assert.Contains(t, out, "UPDATED  v2")
	assert.Contains(t, out, "DELETED  v3")
	assert.NotContains(t, errOut, "warning")

	// tail removes its ephemeral consumer when it ends.
	st, err := s.js.Stream(t.Context(), s.name)
	require.NoError(t, err)
	info, err := st.Info(t.Context())
	require.NoError(t, err)
	assert.Zero(t, info.State.Consumers)
}

func TestTailSinceAndSinceTime(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	id := newID()
	s.publish(event(id, ticketevent.Created, 1))
	s.publish(event(id, ticketevent.Updated, 2, "title"))

	code, out, errOut := runCLI(t, s.env(), s.args("events", "tail", "--since", "1h", "--count", "2")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "CREATED  v1")
	assert.Contains(t, out, "UPDATED  v2")

	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	code, out, errOut = runCLI(t, s.env(), s.args("events", "tail", "--since-time", since, "--count", "1", "--change", "updated")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "UPDATED  v2")
	assert.NotContains(t, out, "CREATED")
}

func TestTailEndsWithExit0OnInterrupt(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	r := startCLI(t, s.env(), s.args("events", "tail")...)
	r.waitFollowing(t)
	r.cancel() // what Ctrl-C does through signal.NotifyContext
	assert.Equal(t, exitOK, r.wait(t), r.stderr.String())
}

func TestEventsCommandsFailClearly(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	down := map[string]string{"NATS_URL": "nats://127.0.0.1:1"}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		msg  string
	}{
		{"tail, NATS unreachable", down, s.args("events", "tail"), "ticketctl: cannot reach NATS at nats://127.0.0.1:1: "},
		{"stats, NATS unreachable", down, s.args("events", "stats"), "cannot reach NATS at nats://127.0.0.1:1"},
		{"dlq list, NATS unreachable", down, s.args("dlq", "list"), "cannot reach NATS at nats://127.0.0.1:1"},
		{"password redacted", map[string]string{"NATS_URL": "nats://ops:hunter2@127.0.0.1:1"}, s.args("events", "stats"), "nats://ops:xxxxx@127.0.0.1:1"},
		{"tail, no such stream", s.env(), []string{"events", "tail", "--stream", "NOPE_" + s.name}, "stream NOPE_" + s.name + " not found"},
		{"stats, no such stream", s.env(), []string{"events", "stats", "--stream", "NOPE_" + s.name}, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.vars, tt.args...)
			assert.Equal(t, exitRuntime, code, "stdout=%q stderr=%q", out, errOut)
			assert.Contains(t, errOut, tt.msg)
			assert.NotContains(t, errOut, "hunter2")
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
}
