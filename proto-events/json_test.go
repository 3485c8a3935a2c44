package protoevents_test

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// The contract's JSON uses the proto field names and the bare enum value
// names; protojson with UseProtoNames must produce exactly that.
func TestTicketChangedJSONRoundTrip(t *testing.T) {
	t.Parallel()

	at := timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	in := &eventsv1.TicketChanged{
		EventId:    "0b5e2f9a-4c1d-4d7e-9a51-3f1c2b7e8d10",
		TicketId:   "t-1",
		Version:    1,
		Change:     eventsv1.Change_CREATED,
		OccurredAt: at,
		Ticket: &eventsv1.Ticket{
			Id: "t-1", Title: "Printer on fire", Status: "open", Priority: "urgent",
			Reporter: "alice", Tags: []string{"hw"}, Version: 1, CreatedAt: at, UpdatedAt: at,
		},
		ChangedFields: []string{"title", "status"},
		Actor:         "alice",
		CorrelationId: "req-1",
	}

	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(in)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}

	// protojson varies its whitespace on purpose, so compare decoded values.
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	want := map[string]any{
		"event_id":       in.EventId,
		"ticket_id":      "t-1",
		"version":        "1", // int64 is a JSON string in proto3 JSON
		"change":         "CREATED",
		"occurred_at":    "2026-01-02T03:04:05Z",
		"actor":          "alice",
		"correlation_id": "req-1",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v (json %s)", k, got[k], v, b)
		}
	}
	if _, ok := got["previous"]; ok {
		t.Errorf("previous present on CREATED: %s", b)
	}
	if ticket, ok := got["ticket"].(map[string]any); !ok || ticket["created_at"] == nil {
		t.Errorf("ticket lacks created_at: %s", b)
	}

	var out eventsv1.TicketChanged
	if err := protojson.Unmarshal(b, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	if !proto.Equal(in, &out) {
		t.Errorf("round trip changed the event:\n in: %v\nout: %v", in, &out)
	}
}
