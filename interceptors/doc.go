// Package interceptors is the home of the kit's server interceptors, one
// package per interceptor in the go-grpc-middleware shape: a package comment
// that says what it does and where it sits, a plain Config struct with a
// DefaultConfig (for those with settings), and New returning a connect-go
// v2 ServerInterceptor that covers unary, client-, server- and
// bidi-streaming calls alike (a stream is observed by wrapping the
// ServerStream before calling next).
//
// New takes what the interceptor works on as arguments — auth its
// Authenticator, the request log its sinks, validation its engine — and
// its settings and optional observers (a logger, the event bus, counters)
// in its Config.
//
// The kit installs them in one fixed order (kit/chain.go; a test pins it):
//
//	requestid → requestlog → [tracing] → auth → limit → errmap → validation → (yours) → handler
//
// selector runs any interceptor for some methods only. docs/interceptors.md
// explains the order and each interceptor's contract.
//
// What these packages must not do: import kit or anything above them, or
// hold per-call state anywhere but the function an interceptor returns.
package interceptors
