// Package tracing is the optional tracing interceptor, right after the
// request log. It continues the caller's
// trace (W3C traceparent/tracestate and baggage headers), opens one server
// span per call on the OpenTelemetry API — named after the procedure, with
// the rpc.* attributes of OpenTelemetry's RPC conventions, the protocol and
// the request id — and records the final code. It puts the span on the
// context, so handlers' own spans and outgoing calls join the trace.
// (connectrpc.com/otelconnect has no connect-go v2 build, so the kit carries
// this small interceptor instead.)
package tracing

import (
	"context"
	"strings"

	"connectrpc.com/connect/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardkit/switchboard"
)

// New returns the tracing interceptor for tp.
func New(tp trace.TracerProvider) connect.ServerInterceptor {
	tracer := tp.Tracer("github.com/switchboardkit/switchboard/interceptors/tracing")
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			info, _ := connect.CallInfoForServerContext(ctx)
			protocol := ""
			if info != nil {
				ctx = prop.Extract(ctx, headerCarrier{info.RequestHeader()})
				protocol = info.Protocol
			}
			service, method, _ := strings.Cut(strings.TrimPrefix(spec.Procedure, "/"), "/")
			system := "connect_rpc"
			if protocol == connect.ProtocolNameGRPC || protocol == connect.ProtocolNameGRPCWeb {
				system = "grpc"
			}
			ctx, span := tracer.Start(ctx, strings.TrimPrefix(spec.Procedure, "/"),
				trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("rpc.system", system),
					attribute.String("rpc.service", service),
					attribute.String("rpc.method", method),
					attribute.String("rpc.connect_rpc.protocol", protocol),
					attribute.String("switchboard.request_id", switchboard.RequestIDFromContext(ctx)),
				))
			defer span.End()
			err := next(ctx, spec, stream)
			code := connect.CodeOf(err)
			if err == nil {
				span.SetAttributes(attribute.Int("rpc.grpc.status_code", 0), attribute.String("rpc.connect_rpc.error_code", "ok"))
				return nil
			}
			span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(code)), attribute.String("rpc.connect_rpc.error_code", code.String()))
			span.SetStatus(codes.Error, code.String())
			return err
		}
	}
}

// headerCarrier adapts connect.Header to OpenTelemetry's TextMapCarrier.
type headerCarrier struct{ h *connect.Header }

func (c headerCarrier) Get(key string) string { return c.h.Get(key) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, c.h.Len())
	for k := range c.h.All() {
		keys = append(keys, k)
	}
	return keys
}
