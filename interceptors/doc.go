// Package interceptors holds the kit's server interceptors, one per file,
// each a connect-go v2 ServerInterceptor that covers unary, client-, server-
// and bidi-streaming calls alike (a stream is observed by wrapping the
// ServerStream before calling next).
//
// Default returns them in the one order the kit installs:
//
//	requestlog → [tracing] → auth → [limit] → errors → validate → (your interceptors) → handler
//
// docs/architecture.md explains the order; a test pins it. Each interceptor
// is usable on its own, configured with functional options (WithX) whose
// defaults are documented on the option.
//
// What this package must not do: import package kit (kit imports it), or
// hold per-call state anywhere but the function an interceptor returns.
package interceptors
