// Package errmap is the error-mapping interceptor, after auth and the
// limiter, around validation and the handler. It recovers panics and maps
// every error the inner chain returns to a code with details from one table
// (DefaultRules, extended by Config.Rules), so only text written for
// clients reaches the wire. Every error it sends carries a
// google.rpc.ErrorInfo with a stable reason and the request id; validation
// failures add a google.rpc.BadRequest. The cause is logged with the request
// id, never sent.
//
// What it must not do: forward a downstream service's error, or put
// anything on the context.
package errmap
