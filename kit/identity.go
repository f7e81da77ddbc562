package kit

import (
	"context"

	"github.com/switchboardkit/switchboard"
)

// Principal is the authenticated caller: API key id, name and scopes.
type Principal = switchboard.Principal

// PrincipalFromContext returns the caller of the current RPC, or nil for an
// anonymous call to a public method.
func PrincipalFromContext(ctx context.Context) *Principal {
	return switchboard.PrincipalFromContext(ctx)
}

// RequireScope fails with PERMISSION_DENIED unless the caller holds scope
// (for checks finer than the per-method policy).
func RequireScope(ctx context.Context, scope string) error {
	return switchboard.RequireScope(ctx, scope)
}

// RequestIDFromContext returns the current call's request id.
func RequestIDFromContext(ctx context.Context) string {
	return switchboard.RequestIDFromContext(ctx)
}

// Sentinel errors: return them (wrapped with %w as you like) and the error
// interceptor answers with the matching code; the wrapping text stays in the
// server log. See docs/errors.md for the whole table.
var (
	ErrNotFound         = switchboard.ErrNotFound         // NOT_FOUND
	ErrAlreadyExists    = switchboard.ErrAlreadyExists    // ALREADY_EXISTS
	ErrPermissionDenied = switchboard.ErrPermissionDenied // PERMISSION_DENIED
	ErrNotImplemented   = switchboard.ErrNotImplemented   // UNIMPLEMENTED
)
