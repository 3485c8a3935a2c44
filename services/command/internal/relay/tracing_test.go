package relay

import (
	"testing"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
	"github.com/ticketsys/ticketsys/pkg/testinfra/ticketsdb"
)

// Each published message gets a PRODUCER span with the messaging
// attributes, in the write's trace when the row carries its traceparent;
// a refused publish's span is failed. The message keeps the writer's
// traceparent. Not parallel: it installs the global tracer provider.
func TestPublishSpans(t *testing.T) {
	rec := testinfra.RecordSpans(t)

	dbURL := ticketsdb.New(t)
	r, stream, js, conn := relayWithStream(t, dbURL)

	const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	traced, untraced, refused := uuid.NewString(), uuid.NewString(), uuid.NewString()
	ids := map[string]string{traced: uuid.NewString(), untraced: uuid.NewString(), refused: uuid.NewString()}
	insert := func(ticket string, headers map[string]string) {
		t.Helper()
		headers["Nats-Msg-Id"] = ids[ticket]
		if _, err := conn.Exec(t.Context(), `INSERT INTO outbox (event_id, ticket_id, version, headers, payload)
			VALUES ($1, $2, 1, $3, '{}')`, ids[ticket], ticket, headers); err != nil {
			t.Fatal(err)
		}
	}
	insert(traced, map[string]string{"traceparent": traceparent})
	insert(untraced, map[string]string{})
	// JetStream refuses it: the stream's last sequence is not 999.
	insert(refused, map[string]string{"Nats-Expected-Last-Sequence": "999"})

	batch, _, err := r.next(t.Context(), conn)
	if err != nil || len(batch) != 3 {
		t.Fatalf("batch of %d, %v", len(batch), err)
	}
	if err := r.publish(t.Context(), conn, batch); !isPublishErr(err) {
		t.Fatalf("publish: %v, want the refused row's publish error", err)
	}

	spans := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		attrs := map[string]string{}
		for _, kv := range sp.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		ticket := attrs["ticket.id"]
		if _, dup := spans[ticket]; dup {
			t.Fatalf("two spans for the message of %s", ticket)
		}
		spans[ticket] = sp
		if sp.Name() != "publish "+stream.Name || sp.SpanKind() != trace.SpanKindProducer {
			t.Errorf("span %q of kind %v, want a producer span named %q", sp.Name(), sp.SpanKind(), "publish "+stream.Name)
		}
		for k, want := range map[string]string{
			"messaging.system":           "nats",
			"messaging.operation.type":   "send",
			"messaging.operation.name":   "publish",
			"messaging.destination.name": stream.Subject(ticket),
			"messaging.message.id":       ids[ticket],
		} {
			if attrs[k] != want {
				t.Errorf("%s's span: %s = %q, want %q", ticket, k, attrs[k], want)
			}
		}
	}
	if len(spans) != 3 {
		t.Fatalf("%d publish spans, want one per message (3)", len(spans))
	}

	sp := spans[traced]
	if sp.SpanContext().TraceID().String() != "0af7651916cd43dd8448eb211c80319c" ||
		sp.Parent().SpanID().String() != "b7ad6b7169203331" || sp.Status().Code == codes.Error {
		t.Errorf("traced row's span %v (parent %v, status %v) is not a good child of the write", sp.SpanContext(), sp.Parent(), sp.Status())
	}
	if sp := spans[untraced]; sp.Parent().IsValid() || sp.Status().Code == codes.Error {
		t.Errorf("untraced row's span has parent %v, status %v; want a root span, not failed", sp.Parent(), sp.Status())
	}
	if sp := spans[refused]; sp.Status().Code != codes.Error || len(sp.Events()) == 0 || sp.Events()[0].Name != "exception" {
		t.Errorf("refused row's span: status %v, events %v; want Error with the exception", sp.Status(), sp.Events())
	}

	// The message keeps the writer's traceparent: the consumer continues the write.
	st, err := js.Stream(t.Context(), stream.Name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(t.Context(), stream.Subject(traced))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("traceparent"); got != traceparent {
		t.Fatalf("published traceparent %q, want the writer's %q", got, traceparent)
	}
}
