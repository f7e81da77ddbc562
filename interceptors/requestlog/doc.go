// Package requestlog is the request log interceptor, the outermost of the
// kit's chain after requestid: it sees every call, rejected ones too, and
// the final code the client gets. It counts messages and bytes by wrapping
// the stream, optionally captures the first message each way (secrets
// redacted), and when the call ends writes one slog line and hands one
// store.RequestLog to its sinks — the asynchronous log writer, the event
// bus, metrics — never blocking or failing the call. The principal comes
// from auth, which runs inside it.
//
// What it must not do: block on a sink, store a secret, or change the call's
// outcome.
package requestlog
