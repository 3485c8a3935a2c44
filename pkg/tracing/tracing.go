// Package tracing sets up OpenTelemetry for a service: on when
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set,
// exporting over OTLP (HTTP/protobuf by default, gRPC on request); off
// otherwise, at no cost. The W3C trace context travels in HTTP headers, in
// outbox rows and in NATS message headers, so one trace runs from a write to
// the cache update it causes.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Enabled reports whether the environment asks for tracing.
func Enabled(getenv func(string) string) bool {
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// OTLP transports, as OTEL_EXPORTER_OTLP_PROTOCOL names them.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

// Protocol returns the OTLP transport for traces:
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
// else http/protobuf (the specification's default). Any other value,
// http/json included (the Go SDK has no such exporter), is an error that
// names the variable.
func Protocol(getenv func(string) string) (string, error) {
	for _, key := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		v := strings.TrimSpace(getenv(key))
		switch v {
		case "":
			continue
		case ProtocolGRPC, ProtocolHTTPProtobuf:
			return v, nil
		default:
			return "", fmt.Errorf("tracing: %s=%q is not supported: use %s or %s", key, v, ProtocolGRPC, ProtocolHTTPProtobuf)
		}
	}
	return ProtocolHTTPProtobuf, nil
}

// Setup installs the global tracer provider and propagator when tracing is
// on, and returns the function that flushes and stops it. The exporter reads
// the standard OTEL_* variables itself (endpoint, headers, timeout,
// certificates); the protocol is checked even with tracing off, so a typo
// fails at start, not once an endpoint is set. version is the build's
// (buildinfo), for service.version.
func Setup(ctx context.Context, service, version string, getenv func(string) string) (func(context.Context) error, error) {
	protocol, err := Protocol(getenv)
	if err != nil {
		return nil, err
	}
	if !Enabled(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	res, err := Resource(ctx, service, version)
	if err != nil {
		return nil, err
	}
	exp, err := newExporter(ctx, protocol)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	Install(tp)
	return tp.Shutdown, nil
}

func newExporter(ctx context.Context, protocol string) (sdktrace.SpanExporter, error) {
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case ProtocolGRPC:
		exp, err = otlptracegrpc.New(ctx)
	default:
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP %s exporter: %w", protocol, err)
	}
	return exp, nil
}

// Resource describes the process in every span: service.name (service,
// unless OTEL_SERVICE_NAME says otherwise), service.version (version, the
// build's), the SDK's telemetry.sdk.*, and whatever
// OTEL_RESOURCE_ATTRIBUTES adds. The environment wins over the defaults. A
// malformed OTEL_RESOURCE_ATTRIBUTES is an error.
func Resource(ctx context.Context, service, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		if errors.Is(err, resource.ErrPartialResource) {
			return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
		}
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// on says whether a provider was installed: until then, spans are no-ops
// and the instrumentation around HTTP, Postgres and Redis is left out,
// since even a no-op span costs a hot path something.
var on atomic.Bool

// On reports whether tracing is on in this process.
func On() bool { return on.Load() }

// Install makes tp the global provider with the W3C propagator; tests use it
// with an in-memory exporter.
func Install(tp *sdktrace.TracerProvider) {
	on.Store(true)
	otel.SetTracerProvider(tp)
	// The trace context only: a client's W3C baggage would otherwise be
	// copied into every outbox row and NATS message it causes.
	otel.SetTextMapPropagator(propagation.TraceContext{})
}

// Inject writes the trace context of ctx into headers (nothing when ctx has
// no sampled span, e.g. with tracing off).
func Inject(ctx context.Context, headers map[string]string) {
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(headers))
}

// Extract returns ctx carrying the trace context found in a NATS message.
func Extract(ctx context.Context, h nats.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, natsCarrier(h))
}

// natsCarrier reads NATS headers by their exact names: the outbox stores
// them lower-case, which http.Header-style canonical lookups would miss.
type natsCarrier nats.Header

func (c natsCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return nats.Header(c).Get(key)
}

func (c natsCarrier) Set(key, value string) { c[key] = []string{value} }

func (c natsCarrier) Keys() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}
