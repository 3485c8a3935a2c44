package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"

	eventsv1 "github.com/ticketsys/ticketsys/proto-events/gen/tickets/events/v1"
)

// timeLayout has a fixed width (UTC, always three fraction digits) so the columns line up.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

var eventJSON = protojson.MarshalOptions{UseProtoNames: true}

// eventPrinter writes one line per event, readable or JSON. color marks up the readable line
// for a terminal; JSON is never coloured.
type eventPrinter struct {
	w     io.Writer
	json  bool
	color bool
}

// eventLine is the --json form of one event.
type eventLine struct {
	Seq     uint64            `json:"seq"`
	Subject string            `json:"subject"`
	Headers map[string]string `json:"headers,omitempty"`
	Event   json.RawMessage   `json:"event"`
}

func (p eventPrinter) print(seq uint64, subject string, h nats.Header, ev *eventsv1.TicketChanged) error {
	if p.json {
		body, err := eventJSON.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event at seq %d: %w", seq, err)
		}
		line, err := json.Marshal(eventLine{Seq: seq, Subject: subject, Headers: flatHeaders(h), Event: body})
		if err != nil {
			return fmt.Errorf("encode event at seq %d: %w", seq, err)
		}
		_, err = fmt.Fprintf(p.w, "%s\n", line)
		return err
	}
	_, err := fmt.Fprintln(p.w, styleEvent(ev, p.color))
	return err
}

// formatEvent is the readable line: fixed-width columns first (time, ticket, change,
// version), then the variable ones as key=value so they stay greppable.
func formatEvent(ev *eventsv1.TicketChanged) string {
	return styleEvent(ev, false)
}

// changeColor is the colour of each kind of change on a terminal.
var changeColor = map[eventsv1.Change]string{
	eventsv1.Change_CREATED: ansiGreen,
	eventsv1.Change_UPDATED: ansiYellow,
	eventsv1.Change_DELETED: ansiRed,
}

// styleEvent is formatEvent's line, with the time dimmed and the change coloured when color
// is set. Columns are padded before they are coloured, so they line up either way.
func styleEvent(ev *eventsv1.TicketChanged, color bool) string {
	fields := strings.Join(ev.GetChangedFields(), ",")
	if fields == "" {
		fields = "-"
	}
	when := ev.GetOccurredAt().AsTime().UTC().Format(timeLayout)
	change := fmt.Sprintf("%-7s", ev.GetChange().String())
	if color {
		when, change = paint(ansiDim, when), paint(changeColor[ev.GetChange()], change)
	}
	return fmt.Sprintf("%s  %-36s  %s  %-5s  fields=%-28s  actor=%-12s  corr=%s",
		when,
		ev.GetTicketId(),
		change,
		fmt.Sprintf("v%d", ev.GetVersion()),
		fields,
		orDash(ev.GetActor()),
		orDash(ev.GetCorrelationId()))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// flatHeaders keeps the first value of each header: the contract's headers are single-valued.
func flatHeaders(h nats.Header) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// headerGet finds a header whatever its case: publishers differ in whether they let
// nats.Header canonicalise names, and an operator tool should read both.
func headerGet(h nats.Header, name string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	for _, k := range sortedKeys(h) {
		if strings.EqualFold(k, name) && len(h[k]) > 0 {
			return h[k][0]
		}
	}
	return ""
}

func sortedKeys(h nats.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fmtTime prints a stream timestamp, or "-" for the zero time of an empty stream.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(timeLayout)
}
