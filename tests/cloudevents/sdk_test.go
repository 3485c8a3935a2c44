package cloudevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	cejetstream "github.com/cloudevents/sdk-go/protocol/nats_jetstream/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ticketsys/ticketsys/pkg/auth/authtest"
	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
	"github.com/ticketsys/ticketsys/pkg/ticketevent"
	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// eventSource is the command service's EVENT_SOURCE, set explicitly so the
// test knows what ce-source must say.
const eventSource = "/ticketsys/command"

// TestSDKReadsSystemEvents runs the real command service, creates, updates
// and deletes a ticket over HTTP, and reads the three messages the relay
// put on stream TICKETS with the SDK's JetStream binding (an ephemeral
// consumer of its own). Every required attribute, and datacontenttype,
// subject and time, must come through, and the data must decode to the
// change that was made.
func TestSDKReadsSystemEvents(t *testing.T) {
	t.Parallel()
	ns := testinfra.StartNATSServer(t)
	keys := authtest.NewKeys(t)
	cmd := testinfra.StartServiceProcess(t, "command", binaries["command"], map[string]string{
		"DATABASE_URL":         ticketsdb.New(t),
		"NATS_URL":             ns.URL(),
		"AUTH_PUBLIC_KEY_FILE": keys.PublicFile,
		"EVENT_SOURCE":         eventSource,
		"OUTBOX_POLL_INTERVAL": "50ms",
		"LOG_FORMAT":           "text",
		"LOG_LEVEL":            "info", // the "listening" line carries the address
		"SHUTDOWN_TIMEOUT":     "5s",
	})
	cmd.WaitReady(t)
	api := client{t: t, base: cmd.URL(), token: keys.Token(t, "cloudevents", "tickets:write")}

	created := api.do(http.MethodPost, "/tickets", `{"title":"read me with the SDK","priority":"high"}`, http.StatusCreated)
	updated := api.do(http.MethodPatch, "/tickets/"+created.ID, `{"status":"in_progress"}`, http.StatusOK)
	api.do(http.MethodDelete, "/tickets/"+created.ID, "", http.StatusNoContent)
	if created.Version != 1 || updated.Version != 2 {
		t.Fatalf("versions %d and %d, want 1 and 2", created.Version, updated.Version)
	}

	msgs := receive(t, ns.URL(), 3)
	want := []struct {
		change  eventsv1.Change
		version int64
	}{{ticketevent.Created, 1}, {ticketevent.Updated, 2}, {ticketevent.Deleted, 3}}
	for i, m := range msgs {
		checkEvent(t, m, created.ID, want[i].change, want[i].version)
	}
}

// checkEvent reads one message with the SDK and checks every attribute
// against the message's Nats-Msg-Id and the event in its data.
func checkEvent(t *testing.T, m *cejetstream.Message, ticketID string, change eventsv1.Change, version int64) {
	t.Helper()
	if enc := m.ReadEncoding(); enc != binding.EncodingBinary {
		t.Fatalf("encoding %v, want binary (headers %v)", enc, m.Msg.Header)
	}
	ev, err := binding.ToEvent(context.Background(), m)
	if err != nil {
		t.Fatalf("binding.ToEvent: %v (headers %v)", err, m.Msg.Header)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("event does not validate: %v (headers %v)", err, m.Msg.Header)
	}
	what := change.String()
	if got := ev.SpecVersion(); got != event.CloudEventsVersionV1 {
		t.Errorf("%s: specversion %q, want %q", what, got, event.CloudEventsVersionV1)
	}
	msgID := m.Msg.Header.Get(jetstream.MsgIDHeader)
	if ev.ID() == "" || ev.ID() != msgID {
		t.Errorf("%s: id %q, want the Nats-Msg-Id %q", what, ev.ID(), msgID)
	}
	if got := ev.Type(); got != ticketevent.EventType {
		t.Errorf("%s: type %q, want %q", what, got, ticketevent.EventType)
	}
	if got := ev.Source(); got != eventSource {
		t.Errorf("%s: source %q, want %q", what, got, eventSource)
	}
	if got := ev.Subject(); got != ticketID {
		t.Errorf("%s: subject %q, want the ticket id %q", what, got, ticketID)
	}
	if got := ev.DataContentType(); got != ticketevent.ContentTypeJSON {
		t.Errorf("%s: datacontenttype %q, want %q (headers %v)", what, got, ticketevent.ContentTypeJSON, m.Msg.Header)
	}
	// The SDK also reads content-type; the binding spec's own name must be
	// there for readers that follow the spec alone.
	if got := m.Msg.Header.Get(ticketevent.HeaderDataContentType); got != ticketevent.ContentTypeJSON {
		t.Errorf("%s: header %s %q, want %q", what, ticketevent.HeaderDataContentType, got, ticketevent.ContentTypeJSON)
	}

	// DataAs goes through the SDK's codec for the datacontenttype it read.
	var data json.RawMessage
	if err := ev.DataAs(&data); err != nil {
		t.Fatalf("%s: DataAs: %v", what, err)
	}
	body, err := ticketevent.Unmarshal(ev.DataContentType(), data)
	if err != nil {
		t.Fatalf("%s: ticketevent.Unmarshal of the event's data: %v\n%s", what, err, data)
	}
	if body.GetTicketId() != ticketID || body.GetVersion() != version || body.GetChange() != change {
		t.Errorf("%s: data says ticket %s version %d %v, want %s version %d", what,
			body.GetTicketId(), body.GetVersion(), body.GetChange(), ticketID, version)
	}
	if body.GetEventId() != ev.ID() {
		t.Errorf("%s: data's event_id %q, id %q", what, body.GetEventId(), ev.ID())
	}
	if ev.Time().IsZero() {
		t.Errorf("%s: no time (headers %v)", what, m.Msg.Header)
	} else if occurred := body.GetOccurredAt().AsTime(); !ev.Time().Equal(occurred) {
		t.Errorf("%s: time %v, want occurred_at %v", what, ev.Time(), occurred)
	}
}

// receive reads n messages from stream TICKETS through the SDK's JetStream
// binding: an ephemeral consumer of the whole stream, no acks.
func receive(t *testing.T, url string, n int) []*cejetstream.Message {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	// The relay creates the stream with its first publish; the binding
	// would create a stream of its own design if it found none.
	waitStream(t, nc)
	consumer, err := cejetstream.NewConsumerFromConn(nc, ticketevent.DefaultStream,
		ticketevent.DefaultSubjectPrefix+".>", nil, []nats.SubOpt{nats.DeliverAll(), nats.AckNone()})
	if err != nil {
		t.Fatalf("NewConsumerFromConn: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opened := make(chan error, 1)
	go func() { opened <- consumer.OpenInbound(ctx) }()
	defer func() {
		if err := consumer.Close(context.Background()); err != nil {
			t.Errorf("closing the consumer: %v", err)
		}
		if err := <-opened; err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			t.Errorf("OpenInbound: %v", err)
		}
	}()

	var out []*cejetstream.Message
	for len(out) < n {
		msg, err := consumer.Receive(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatalf("%d of %d messages within 30s", len(out), n)
			}
			t.Fatalf("Receive: %v", err)
		}
		m, ok := msg.(*cejetstream.Message)
		if !ok {
			t.Fatalf("Receive gave a %T", msg)
		}
		out = append(out, m)
	}
	return out
}

// waitStream waits until the relay has created the events stream.
func waitStream(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.Stream(ctx, ticketevent.DefaultStream)
		cancel()
		if err == nil {
			return
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) || time.Now().After(deadline) {
			t.Fatalf("stream %s: %v", ticketevent.DefaultStream, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// client calls the command service's HTTP API with a write token.
type client struct {
	t     *testing.T
	base  string
	token string
}

type ticketJSON struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

func (c client) do(method, path, body string, status int) ticketJSON {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewBufferString(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.StatusCode != status {
		c.t.Fatalf("%s %s: %s, want %d: %s", method, path, res.Status, status, b)
	}
	var tk ticketJSON
	if len(b) > 0 {
		if err := json.Unmarshal(b, &tk); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return tk
}
