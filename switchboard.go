// Package switchboard is the kit's shared vocabulary: who is calling
// (Principal), which call this is (request id), and the sentinel errors a
// handler returns to mean a status. It sits at the center of the import graph
// and imports nothing of the kit but its internal context keys, so every
// layer — kit, interceptors, handlers — can speak it.
//
// It must not grow behaviour: no I/O, no configuration, no logging.
package switchboard

import (
	"context"
	"errors"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/internal/callctx"
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

// PrincipalFromContext returns the caller auth established, or nil for an
// anonymous call (a public method called without credentials). Only the
// kit's auth puts a principal on a context; nothing outside this module can.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := callctx.Principal(ctx).(*Principal)
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

// RequestIDFromContext returns the call's request id (the client's valid
// X-Request-Id, else one the kit made), or "" outside a call.
func RequestIDFromContext(ctx context.Context) string { return callctx.RequestID(ctx) }

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
