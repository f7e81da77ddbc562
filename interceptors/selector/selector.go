// Package selector runs an interceptor for some methods only. It is the one
// way the kit selects methods for an interceptor — the kit itself uses it to
// keep the request log off the procedures in -log-skip-procedures — so no
// interceptor grows a knob of its own for it. Methods are chosen by
// procedure patterns ("grpc.health.v1.Health/*", "*/ListPets"), matched by
// switchboard.ProcedureMatches like every other per-method rule of the kit.
//
// What it must not do: change a call; it only decides whether the wrapped
// interceptor sees it.
package selector

import (
	"context"
	"sync"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
)

// Match reports whether a call's method is selected.
type Match func(spec connect.Spec) bool

// Procedures selects the procedures matching any of patterns, deciding
// once per procedure.
func Procedures(patterns ...string) Match {
	var seen sync.Map // procedure → bool
	return func(spec connect.Spec) bool {
		if v, ok := seen.Load(spec.Procedure); ok {
			return v.(bool)
		}
		match := false
		for _, p := range patterns {
			if switchboard.ProcedureMatches(p, spec.Procedure) {
				match = true
				break
			}
		}
		seen.Store(spec.Procedure, match)
		return match
	}
}

// Only runs interceptor for the selected calls; the others go straight on.
func Only(match Match, interceptor connect.ServerInterceptor) connect.ServerInterceptor {
	return func(next connect.ServerFunc) connect.ServerFunc {
		wrapped := interceptor(next)
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			if match(spec) {
				return wrapped(ctx, spec, stream)
			}
			return next(ctx, spec, stream)
		}
	}
}

// Except runs interceptor for every call but the selected ones.
func Except(match Match, interceptor connect.ServerInterceptor) connect.ServerInterceptor {
	return Only(func(spec connect.Spec) bool { return !match(spec) }, interceptor)
}
