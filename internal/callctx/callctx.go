// Package callctx holds what the kit puts on a call's context for its own
// layers: the principal auth establishes, the request id, the lift of the
// request body's read deadline, and the server's drain signal and shutdown
// cause. The root package and kit read from it (PrincipalFromContext,
// RequestIDFromContext, ShuttingDown); only the kit's own packages write.
//
// It is internal on purpose: code outside this module cannot put a
// principal on a context, so a handler that reads one knows auth put it
// there. It must stay free of behaviour: context values only (the body lift
// is a function the server's HTTP layer puts there, which the limiter only
// calls).
package callctx

import (
	"context"
	"errors"
	"sync/atomic"
)

type (
	principalKey struct{}
	slotKey      struct{}
	requestIDKey struct{}
	bodyLiftKey  struct{}
	drainKey     struct{}
)

// WithPrincipal returns ctx carrying p (a *switchboard.Principal; this
// package cannot name the type without an import cycle). A slot opened by
// TrackPrincipal further out is filled too.
func WithPrincipal(ctx context.Context, p any) context.Context {
	if slot, ok := ctx.Value(slotKey{}).(*atomic.Value); ok {
		slot.Store(&p)
	}
	return context.WithValue(ctx, principalKey{}, p)
}

// Principal returns what WithPrincipal put on ctx, or nil.
func Principal(ctx context.Context) any { return ctx.Value(principalKey{}) }

// TrackPrincipal lets an outer layer (the request log) learn the principal
// an inner one (auth) establishes: the returned function reports it once
// the inner call has run, nil if none was set.
func TrackPrincipal(ctx context.Context) (context.Context, func() any) {
	slot := new(atomic.Value)
	return context.WithValue(ctx, slotKey{}, slot), func() any {
		if p, ok := slot.Load().(*any); ok {
			return *p
		}
		return nil
	}
}

// WithRequestID returns ctx carrying the call's request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the call's request id, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithBodyDeadlineLift returns ctx carrying lift, which removes the read
// deadline the server put on the request body. The limiter calls it once a
// client or bidi stream is admitted — past auth and the stream caps — so
// only admitted streams may send slowly.
func WithBodyDeadlineLift(ctx context.Context, lift func()) context.Context {
	return context.WithValue(ctx, bodyLiftKey{}, lift)
}

// LiftBodyDeadline calls the lift WithBodyDeadlineLift put on ctx, if any.
func LiftBodyDeadline(ctx context.Context) {
	if lift, ok := ctx.Value(bodyLiftKey{}).(func()); ok {
		lift()
	}
}

// WithDrain returns ctx carrying the channel the server closes when it
// begins to shut down.
func WithDrain(ctx context.Context, drain <-chan struct{}) context.Context {
	return context.WithValue(ctx, drainKey{}, drain)
}

// Drain returns the channel WithDrain put on ctx, or nil (never fires).
func Drain(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(drainKey{}).(<-chan struct{})
	return ch
}

// ErrShuttingDown is the cause a server gives the contexts of calls it
// cancels at the end of its shutdown grace period; such calls end
// UNAVAILABLE (retry elsewhere), not CANCELED.
var ErrShuttingDown = errors.New("the server is shutting down")
