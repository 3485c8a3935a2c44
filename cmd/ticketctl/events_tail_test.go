package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

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

	if code := r.wait(t); code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, r.stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), r.stdout.String())
	}
	for i, wants := range [][]string{
		{"2026-11-26T10:05:00.654Z  " + mine + "  CREATED  v1", "fields=-"},
		{mine + "  UPDATED  v2", "fields=title,status", "actor=alice", "corr=req-" + mine[:8]},
	} {
		for _, want := range wants {
			if !strings.Contains(lines[i], want) {
				t.Errorf("line %d %q lacks %q", i, lines[i], want)
			}
		}
	}
	if strings.Contains(r.stdout.String(), other) {
		t.Errorf("the other ticket %s was shown:\n%s", other, r.stdout.String())
	}
	if strings.Contains(r.stdout.String(), old) {
		t.Errorf("the event published before tail started (%s) was shown:\n%s", old, r.stdout.String())
	}
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
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := fmt.Sprintf("warning: seq %d", bad); !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q: an undecodable message is reported with its sequence", errOut, want)
	}

	var line struct {
		Seq     uint64            `json:"seq"`
		Subject string            `json:"subject"`
		Headers map[string]string `json:"headers"`
		Event   map[string]any    `json:"event"`
	}
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if line.Seq != delSeq {
		t.Errorf("seq %d, want %d", line.Seq, delSeq)
	}
	if want := s.prefix + "." + id; line.Subject != want {
		t.Errorf("subject %s, want %s", line.Subject, want)
	}
	if got, want := line.Headers["ce-id"], del.GetEventId(); got != want {
		t.Errorf("ce-id header %q, want %q", got, want)
	}
	// The event is shown with its proto field names.
	for field, want := range map[string]string{
		"change":         "DELETED",
		"ticket_id":      id,
		"version":        "3",
		"correlation_id": "req-" + id[:8],
	} {
		if got := line.Event[field]; got != want {
			t.Errorf("event %s = %#v, want %q", field, got, want)
		}
	}

	// From a later sequence the earlier events are not shown.
	code, out, errOut = runCLI(t, s.env(), s.args("events", "tail", "--seq", fmt.Sprint(bad+1), "--count", "2")...)
	if code != exitOK {
		t.Fatalf("--seq %d: exit code %d, want %d; stderr=%s", bad+1, code, exitOK, errOut)
	}
	if strings.Contains(out, "CREATED") {
		t.Errorf("the event before seq %d was shown:\n%s", bad+1, out)
	}
	for _, want := range []string{"UPDATED  v2", "DELETED  v3"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("stderr %q warns about a message before seq %d", errOut, bad+1)
	}

	// tail removes its ephemeral consumer when it ends.
	st, err := s.js.Stream(t.Context(), s.name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Errorf("%d consumers left on the stream, want 0", info.State.Consumers)
	}
}

func TestTailSinceAndSinceTime(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	id := newID()
	s.publish(event(id, ticketevent.Created, 1))
	s.publish(event(id, ticketevent.Updated, 2, "title"))

	code, out, errOut := runCLI(t, s.env(), s.args("events", "tail", "--since", "1h", "--count", "2")...)
	if code != exitOK {
		t.Fatalf("--since 1h: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	for _, want := range []string{"CREATED  v1", "UPDATED  v2"} {
		if !strings.Contains(out, want) {
			t.Errorf("--since 1h: stdout lacks %q:\n%s", want, out)
		}
	}

	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	code, out, errOut = runCLI(t, s.env(), s.args("events", "tail", "--since-time", since, "--count", "1", "--change", "updated")...)
	if code != exitOK {
		t.Fatalf("--since-time: exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if want := "UPDATED  v2"; !strings.Contains(out, want) {
		t.Errorf("--since-time: stdout lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "CREATED") {
		t.Errorf("--change updated showed a created event:\n%s", out)
	}
}

func TestTailEndsWithExit0OnInterrupt(t *testing.T) {
	t.Parallel()
	s := newStreams(t)
	r := startCLI(t, s.env(), s.args("events", "tail")...)
	r.waitFollowing(t)
	r.cancel() // what Ctrl-C does through signal.NotifyContext
	if code := r.wait(t); code != exitOK {
		t.Errorf("exit code %d, want %d; stderr=%s", code, exitOK, r.stderr.String())
	}
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
			if code != exitRuntime {
				t.Errorf("exit code %d, want %d; stdout=%q stderr=%q", code, exitRuntime, out, errOut)
			}
			if !strings.Contains(errOut, tt.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tt.msg)
			}
			if strings.Contains(errOut, "hunter2") {
				t.Errorf("stderr %q shows the password", errOut)
			}
			if n := strings.Count(errOut, "\n"); n != 1 {
				t.Errorf("stderr has %d lines, want one: %q", n, errOut)
			}
		})
	}
}
