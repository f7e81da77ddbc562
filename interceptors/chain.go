package interceptors

import (
	"connectrpc.com/connect/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchboardkit/switchboard/validate"
)

// Chain holds what the default interceptors need. Zero fields are safe:
// no sink logs lines only, no authenticator accepts no credentials (public
// methods only), no engine validates with an empty rule set (Validate()
// methods still run).
type Chain struct {
	Sink          LogSink
	RequestLog    []RequestLogOption
	Authenticator Authenticator
	Auth          []AuthOption
	// Limiter, when set, caps calls in flight and applies default deadlines,
	// right after auth.
	Limiter *Limiter
	// Tracer, when set, adds the tracing interceptor right after the request
	// log.
	Tracer    trace.TracerProvider
	Errors    []ErrorsOption
	Validator *validate.Engine
}

// Default returns the kit's interceptors in their fixed order:
//
//  1. RequestLog — outermost, so it sees every call, rejected ones too,
//     and the final code the client gets; (Tracing, when configured, next,
//     so every span carries the request id;)
//  2. Auth — on headers only, before any payload is read or decoded;
//     (Limit, when configured — after auth, so only callers that got in
//     take a slot;)
//  3. Errors — wraps everything the service can produce (validation
//     failures, handler errors, panics) and maps it;
//  4. Validate — checks each request message before the handler sees it.
//
// Interceptors of your own go after these, closest to the handler.
func Default(c Chain) []connect.ServerInterceptor {
	engine := c.Validator
	if engine == nil {
		engine = validate.New()
	}
	chain := []connect.ServerInterceptor{RequestLog(c.Sink, c.RequestLog...)}
	if c.Tracer != nil {
		chain = append(chain, Tracing(c.Tracer))
	}
	chain = append(chain, Auth(c.Authenticator, c.Auth...))
	if c.Limiter != nil {
		chain = append(chain, c.Limiter.Interceptor())
	}
	return append(chain, Errors(c.Errors...), Validate(engine))
}
