// Package switchboard is the kit's shared vocabulary: who is calling
// (Principal), which call this is (request id), and the sentinel errors a
// handler returns to mean a status. It sits at the center of the import graph
// and imports nothing of the kit, so every layer — kit, interceptors, handlers
// — can speak it; package kit re-exports it under the names users reach for
// (kit.Principal, kit.ErrNotFound, …).
//
// It must not grow behaviour: no I/O, no configuration, no logging.
package switchboard

import (
	"context"
	"errors"
	"sync/atomic"

	"connectrpc.com/connect/v2"
)

// Principal is the authenticated caller of an RPC.
type Principal struct {
	// KeyID identifies the credential (an API key's id); never the secret.
	KeyID string
	// Name is the credential's human name.
	Name string
	// Scopes are procedure patterns ("*", "petstore.v1.PetStoreService/*",
	// "*/ListPets") and named scopes ("admin"); see scope.go for what each
	// grants.
	Scopes []string
}

type principalKey struct{}

type principalSlotKey struct{}

// WithPrincipal returns ctx carrying p. The auth interceptor calls it. If an
// outer layer asked to observe the principal (TrackPrincipal), it is told too.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	if slot, ok := ctx.Value(principalSlotKey{}).(*atomic.Pointer[Principal]); ok {
		slot.Store(p)
	}
	return context.WithValue(ctx, principalKey{}, p)
}

// TrackPrincipal lets an outer interceptor (the request log) learn the
// principal that an inner one (auth) establishes: the returned function
// reports it once the inner call has run.
func TrackPrincipal(ctx context.Context) (context.Context, func() *Principal) {
	slot := new(atomic.Pointer[Principal])
	return context.WithValue(ctx, principalSlotKey{}, slot), slot.Load
}

// PrincipalFromContext returns the caller, or nil for an anonymous call (a
// public method called without credentials).
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// RequireScope fails with PERMISSION_DENIED unless the caller holds the
// named scope (Principal.HasScope); procedure patterns never satisfy it.
func RequireScope(ctx context.Context, scope string) error {
	if PrincipalFromContext(ctx).HasScope(scope) {
		return nil
	}
	return connect.Errorf(connect.CodePermissionDenied, "the %q scope is required", scope)
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the call's request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFromContext returns the call's request id, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Sentinel errors. Return them (wrapped with %w for context, which stays in
// the server log) and the error interceptor answers with the matching code.
var (
	ErrNotFound         = errors.New("not found")
	ErrAlreadyExists    = errors.New("already exists")
	ErrPermissionDenied = errors.New("permission denied")
	ErrNotImplemented   = errors.New("not implemented")
)

// StatusError lets a domain error choose how it is answered. The message it
// returns is sent to the client, so it must be written for the client.
type StatusError interface {
	error
	// RPCStatus returns the code, a stable UPPER_SNAKE reason, and a public
	// message.
	RPCStatus() (code connect.Code, reason, message string)
}
