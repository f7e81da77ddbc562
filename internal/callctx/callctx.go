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

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
)

type (
	callKey     struct{}
	restKey     struct{}
	bodyLiftKey struct{}
	drainKey    struct{}
)

// call is what the kit's layers share about one call: one value on the
// context instead of one per fact, so a call pays one allocation for it
// rather than one per layer. It is found again by the call's CallInfo, so
// a handler's nested in-process call, which has a CallInfo of its own, gets
// a call of its own and never sees or changes the outer one's principal.
//
// Its fields are written by a layer before it calls the next one and read
// by inner layers, the handler, or outer layers after next returns; each of
// those is ordered after the write, so no lock is needed.
type call struct {
	info      *connect.CallInfo
	requestID string
	principal any
}

// begin returns the call ctx belongs to, putting a new one on ctx if this
// call has none yet.
func begin(ctx context.Context) (context.Context, *call) {
	if c := find(ctx); c != nil {
		return ctx, c
	}
	info, _ := connect.CallInfoForServerContext(ctx)
	c := &call{info: info}
	return context.WithValue(ctx, callKey{}, c), c
}

// find returns the call ctx belongs to, or nil: the nearest one on ctx if it
// was made for this call's CallInfo.
func find(ctx context.Context) *call {
	c, ok := ctx.Value(callKey{}).(*call)
	if !ok {
		return nil
	}
	if info, _ := connect.CallInfoForServerContext(ctx); info != c.info {
		return nil // an outer call's, seen from a nested one
	}
	return c
}

// WithPrincipal records p (a *switchboard.Principal; this package cannot
// name the type without an import cycle) as the call's principal and
// returns ctx, which carries it. Layers further out see it too once the
// inner call has run: that is how the request log learns who called.
func WithPrincipal(ctx context.Context, p any) context.Context {
	ctx, c := begin(ctx)
	c.principal = p
	return ctx
}

// Principal returns what WithPrincipal recorded for the call, or nil.
func Principal(ctx context.Context) any {
	if c := find(ctx); c != nil {
		return c.principal
	}
	return nil
}

// WithRequestID returns ctx carrying the call's request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	ctx, c := begin(ctx)
	c.requestID = id
	return ctx
}

// RequestID returns the call's request id, or "".
func RequestID(ctx context.Context) string {
	if c := find(ctx); c != nil {
		return c.requestID
	}
	return ""
}

// Begin puts the call's shared record on ctx now, so the layers inside
// share one; the kit's outermost layer calls it. Layers call it only as an
// optimisation: WithPrincipal and WithRequestID begin one when missing.
func Begin(ctx context.Context) context.Context {
	ctx, _ = begin(ctx)
	return ctx
}

// REST is a call that came in on a REST route: what the client sent, before
// the transcoder turned it into a Connect call of Procedure.
type REST struct {
	Method    string // the client's HTTP method: GET, POST, PATCH…
	Route     string // the route's path template: /v1/pets/{id}
	Procedure string // the call it became: /petstore.v1.PetStoreService/GetPet
}

// WithREST returns ctx carrying r; the REST layer calls it on the HTTP
// request before transcoding it.
func WithREST(ctx context.Context, r *REST) context.Context {
	return context.WithValue(ctx, restKey{}, r)
}

// RESTFor returns the REST route the call of procedure came in on, or nil:
// a call that arrived any other way, or a nested call a REST-served
// handler made in-process (its procedure or its transport differ).
func RESTFor(ctx context.Context, procedure string) *REST {
	r, _ := ctx.Value(restKey{}).(*REST)
	if r == nil || r.Procedure != procedure {
		return nil
	}
	if _, overHTTP := connecthttp.ServerInfoForContext(ctx); !overHTTP {
		return nil
	}
	return r
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
