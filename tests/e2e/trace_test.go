package e2e

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/ticketsys/ticketsys/pkg/testinfra"
)

// span is one exported span, as the OTLP receiver below saw it.
type span struct {
	service, name     string
	trace, id, parent string
	kind              tracepb.Span_SpanKind
	attrs             map[string]string
}

// otlpSink is an OTLP/HTTP trace receiver: the services export to it as
// they would to a collector, so the test sees their real spans.
type otlpSink struct {
	mu    sync.Mutex
	spans []span
}

func (o *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, a := range sp.GetAttributes() {
					attrs[a.GetKey()] = a.GetValue().GetStringValue()
				}
				o.spans = append(o.spans, span{service: service, name: sp.GetName(),
					trace: hex.EncodeToString(sp.GetTraceId()), id: hex.EncodeToString(sp.GetSpanId()),
					parent: hex.EncodeToString(sp.GetParentSpanId()), kind: sp.GetKind(), attrs: attrs})
			}
		}
	}
	o.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func (o *otlpSink) snapshot() []span {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]span(nil), o.spans...)
}

// One trace runs from the HTTP write through the outbox row and the NATS
// message to the invalidator's cache work, across the three processes.
func TestOneTraceFromWriteToCache(t *testing.T) {
	t.Parallel()
	sink := &otlpSink{}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	s := newStackWith(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": srv.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "100",
	})

	tk := s.create(`{"title":"traced end to end"}`)

	var write, apply span
	testinfra.Eventually(t, 15*time.Second, func() bool {
		write, apply = span{}, span{}
		for _, sp := range sink.snapshot() {
			if sp.service == "cache-invalidator" && sp.name == "process "+sp.attrs["messaging.consumer.group.name"] && sp.attrs["ticket.id"] == tk.ID {
				apply = sp
			}
		}
		for _, sp := range sink.snapshot() {
			if sp.service == "command" && sp.kind == tracepb.Span_SPAN_KIND_SERVER && sp.trace == apply.trace &&
				strings.Contains(sp.name, "/tickets") {
				write = sp
			}
		}
		return apply.id != "" && write.id != ""
	}, "no write span and apply span in one trace (spans seen: %d)", len(sink.snapshot()))

	if apply.parent != write.id {
		t.Fatalf("the invalidator's span has parent %s, want the write's server span %s", apply.parent, write.id)
	}
	var db, redisSpans int
	for _, sp := range sink.snapshot() {
		switch {
		case sp.trace != write.trace:
		case sp.service == "command" && sp.kind == tracepb.Span_SPAN_KIND_CLIENT:
			db++
		case sp.service == "cache-invalidator" && sp.parent == apply.id:
			redisSpans++
		}
	}
	if db == 0 || redisSpans == 0 {
		t.Fatalf("the trace lacks database spans (%d) or Redis spans (%d)", db, redisSpans)
	}
}
