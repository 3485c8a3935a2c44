package tracing_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/ticketsys/ticketsys/pkg/tracing"
)

func mapEnv(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestProtocolFollowsTheEnvironment(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "http/protobuf"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "http/protobuf"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "grpc"},
		{map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"}, "http/protobuf"},
	} {
		if got, err := tracing.Protocol(mapEnv(c.env)); err != nil || got != c.want {
			t.Errorf("Protocol(%v) = %q, %v; want %q", c.env, got, err, c.want)
		}
	}
	for key, value := range map[string]string{
		"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/json", // in the specification, not in the Go SDK
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grcp",
	} {
		env := mapEnv(map[string]string{key: value})
		_, err := tracing.Protocol(env)
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), value) {
			t.Errorf("%s=%s: error %v, want one naming the variable and its value", key, value, err)
		}
		// Setup refuses it too, with tracing off as well.
		if _, err := tracing.Setup(context.Background(), "svc", "v1.2.3", env); err == nil {
			t.Errorf("Setup accepted %s=%s", key, value)
		}
	}
}

// resourceOf returns the resource of a span recorded with a provider made
// of tracing.Resource.
func resourceOf(t *testing.T, service string) *resource.Resource {
	t.Helper()
	res, err := tracing.Resource(context.Background(), service, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	_, span := tp.Tracer("t").Start(context.Background(), "x")
	span.End()
	return rec.Ended()[0].Resource()
}

func attrs(res *resource.Resource) map[string]string {
	out := map[string]string{}
	for _, kv := range res.Attributes() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// Not parallel: it sets OTEL_* variables of the process, which the SDK reads.
func TestResourceFollowsTheEnvironment(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	got := attrs(resourceOf(t, "ticket-command"))
	if got["service.name"] != "ticket-command" || got["service.version"] != "v1.2.3" ||
		got["telemetry.sdk.language"] != "go" || got["telemetry.sdk.name"] != "opentelemetry" {
		t.Fatalf("default resource %v", got)
	}

	t.Setenv("OTEL_SERVICE_NAME", "command-eu")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging,service.namespace=tickets,service.version=v9.9.9")
	got = attrs(resourceOf(t, "ticket-command"))
	if got["service.name"] != "command-eu" || got["deployment.environment.name"] != "staging" ||
		got["service.namespace"] != "tickets" || got["service.version"] != "v9.9.9" {
		t.Fatalf("resource %v does not follow OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES", got)
	}

	// service.name in OTEL_RESOURCE_ATTRIBUTES counts when OTEL_SERVICE_NAME is unset.
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes")
	if got = attrs(resourceOf(t, "ticket-command")); got["service.name"] != "from-attributes" {
		t.Fatalf("service.name %q, want from-attributes", got["service.name"])
	}

	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "no-equals-sign")
	if _, err := tracing.Resource(context.Background(), "ticket-command", "v1.2.3"); err == nil ||
		!strings.Contains(err.Error(), "OTEL_RESOURCE_ATTRIBUTES") {
		t.Fatalf("malformed OTEL_RESOURCE_ATTRIBUTES: %v", err)
	}
}

// receiver collects what OTLP exporters send it.
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu   sync.Mutex
	reqs []*collectortrace.ExportTraceServiceRequest
}

func (r *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// spans returns "service.name/span name" of every span received.
func (r *receiver) spans() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, req := range r.reqs {
		for _, rs := range req.GetResourceSpans() {
			var service string
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					out = append(out, service+"/"+sp.GetName())
				}
			}
		}
	}
	return out
}

// grpcReceiver serves OTLP/gRPC and returns its endpoint.
func grpcReceiver(t *testing.T, rcv *receiver) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, rcv)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return "http://" + ln.Addr().String() // http: plaintext
}

// httpReceiver serves OTLP/HTTP (protobuf) and returns its endpoint.
func httpReceiver(t *testing.T, rcv *receiver) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		req := &collectortrace.ExportTraceServiceRequest{}
		if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" ||
			proto.Unmarshal(body, req) != nil {
			http.Error(w, "not OTLP/HTTP protobuf", http.StatusBadRequest)
			return
		}
		resp, _ := rcv.Export(r.Context(), req)
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Setup exports over the protocol asked for, to a real OTLP receiver, with
// the service's resource. Not parallel: it sets OTEL_* variables and
// installs the global tracer provider.
func TestSetupExportsOverTheChosenProtocol(t *testing.T) {
	t.Cleanup(func() { tracing.Install(sdktrace.NewTracerProvider()) })
	for _, c := range []struct {
		name, protocol string
		serve          func(*testing.T, *receiver) string
	}{
		{"default", "", httpReceiver},
		{"http", "http/protobuf", httpReceiver},
		{"grpc", "grpc", grpcReceiver},
	} {
		t.Run(c.name, func(t *testing.T) {
			rcv := &receiver{}
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", c.serve(t, rcv))
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)
			t.Setenv("OTEL_SERVICE_NAME", "")
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
			stop, err := tracing.Setup(context.Background(), "svc-"+c.name, "v1.2.3", os.Getenv)
			if err != nil {
				t.Fatal(err)
			}
			_, span := otel.Tracer("t").Start(context.Background(), "work")
			span.SetAttributes(attribute.String("k", "v"))
			span.End()
			if err := stop(context.Background()); err != nil { // flushes
				t.Fatalf("shutdown: %v", err)
			}
			if got := rcv.spans(); len(got) != 1 || got[0] != "svc-"+c.name+"/work" {
				t.Fatalf("receiver got %v, want [svc-%s/work]", got, c.name)
			}
		})
	}
}
