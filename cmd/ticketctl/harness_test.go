package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/ticket"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// bgRun is a command running in the background (tail without --count).
type bgRun struct {
	stdout, stderr testinfra.SyncBuffer // written by the running command while the test reads them
	cancel         context.CancelFunc
	done           chan int
}

func startCLI(t *testing.T, vars map[string]string, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &bgRun{cancel: cancel, done: make(chan int, 1)}
	go func() { r.done <- run(ctx, args, env(vars), &r.stdout, &r.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// wait returns the exit code once the command ended by itself.
func (r *bgRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-r.done:
		r.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("command still running; stdout=%q stderr=%q", r.stdout.String(), r.stderr.String())
		return -1
	}
}

// waitFollowing waits until tail's consumer exists on the server: what is published after
// this is shown.
func (r *bgRun) waitFollowing(t *testing.T) {
	t.Helper()
	testinfra.Eventually(t, 15*time.Second, func() bool {
		return strings.Contains(r.stderr.String(), "following")
	}, "tail never started; stderr=%q", &r.stderr)
}

// streams is a test's own events and DLQ streams on the shared NATS.
type streams struct {
	t                                *testing.T
	url                              string
	js                               jetstream.JetStream
	name, prefix, dlqName, dlqPrefix string
}

func newStreams(t *testing.T) *streams {
	t.Helper()
	name := testinfra.UniqueName(t, "CTL")
	s := &streams{
		t: t, url: testinfra.NATSURL(t), name: name, prefix: "test." + name + ".changed",
		dlqName: name + "_DLQ", dlqPrefix: "test." + name + ".dlq",
	}
	s.js = testinfra.JetStream(t, s.url)
	opts := ticketevent.StreamOptions{Name: name, SubjectPrefix: s.prefix, Replicas: 1, MaxAge: time.Hour}
	if _, err := s.js.CreateStream(t.Context(), opts.Config()); err != nil {
		t.Fatal(err)
	}
	testinfra.DeleteStreamsAtCleanup(t, s.js, s.name, s.dlqName)
	return s
}

// createDLQ makes the dead-letter stream, which only exists once something was dead-lettered.
func (s *streams) createDLQ() jetstream.Stream {
	s.t.Helper()
	st, err := s.js.CreateStream(s.t.Context(), jetstream.StreamConfig{
		Name: s.dlqName, Subjects: []string{s.dlqPrefix + ".>"}, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

// args appends the flags that point a command at this test's streams.
func (s *streams) args(args ...string) []string {
	return append(args, "--stream", s.name, "--subject-prefix", s.prefix, "--dlq-stream", s.dlqName)
}

func (s *streams) env() map[string]string { return map[string]string{"NATS_URL": s.url} }

// publish sends ev as the outbox relay would and returns its stream sequence.
func (s *streams) publish(ev *eventsv1.TicketChanged) uint64 {
	s.t.Helper()
	body, err := ticketevent.Marshal(ev)
	if err != nil {
		s.t.Fatal(err)
	}
	msg := &nats.Msg{Subject: s.prefix + "." + ev.GetTicketId(), Data: body,
		Header: ticketevent.NATSHeader(ticketevent.Headers(ev, "/test"))}
	return s.publishMsg(msg)
}

func (s *streams) publishMsg(msg *nats.Msg) uint64 {
	s.t.Helper()
	ack, err := s.js.PublishMsg(s.t.Context(), msg)
	if err != nil {
		s.t.Fatal(err)
	}
	return ack.Sequence
}

// event builds a TicketChanged for ticket id at version v.
func event(id string, change eventsv1.Change, v int64, fields ...string) *eventsv1.TicketChanged {
	at := time.Date(2026, 11, 26, 10, 5, 0, 654321000, time.UTC)
	tk := ticket.Ticket{ID: id, Title: "Printer jammed", Status: "open", Priority: "medium",
		Tags: []string{}, Version: v, CreatedAt: at, UpdatedAt: at}
	prev := tk
	prev.Version = v - 1
	meta := ticketevent.Meta{EventID: uuid.NewString(), Actor: "alice", CorrelationID: "req-" + id[:8], OccurredAt: at}
	var ev *eventsv1.TicketChanged
	switch change {
	case ticketevent.Created:
		ev = ticketevent.New(meta, change, nil, &tk, v)
	case ticketevent.Deleted:
		ev = ticketevent.New(meta, change, &prev, nil, v)
	default:
		ev = ticketevent.New(meta, change, &prev, &tk, v)
	}
	ev.ChangedFields = fields
	return ev
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
