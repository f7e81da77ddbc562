package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/events"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/internal/peer"
	"github.com/switchboardkit/switchboard/internal/rpcerr"
)

// Authenticator establishes who is calling from the request headers.
//
// It returns (nil, nil) when the request carries no credentials it
// recognizes as its own, a Principal when they are valid, and an error
// wrapping ErrInvalidCredentials when they are present but wrong, expired
// or revoked. Any other error means it could not decide (its store is down)
// and the call fails with UNAVAILABLE.
type Authenticator interface {
	Authenticate(ctx context.Context, header *connect.Header) (*switchboard.Principal, error)
}

// ErrInvalidCredentials is what an Authenticator wraps for bad credentials.
var ErrInvalidCredentials = errors.New("invalid credentials")

// CredentialError is an invalid-credentials error that names the key it was
// about. It matches ErrInvalidCredentials with errors.Is.
type CredentialError struct {
	KeyID  string
	Detail string
}

func (e *CredentialError) Error() string        { return "invalid credentials: " + e.Detail }
func (e *CredentialError) Is(target error) bool { return target == ErrInvalidCredentials }

// Reasons in the ErrorInfo of auth failures.
const (
	ReasonMissingCredentials = "MISSING_CREDENTIALS"
	ReasonInvalidCredentials = "INVALID_CREDENTIALS"
	ReasonMissingScope       = "MISSING_SCOPE"
	ReasonTooManyFailures    = "TOO_MANY_FAILED_ATTEMPTS"
	ReasonAuthUnavailable    = "AUTH_UNAVAILABLE"
)

// New returns the auth interceptor. A nil authenticator accepts no
// credentials at all: public methods work, everything else is refused.
func New(authn Authenticator, cfg Config) connect.ServerInterceptor {
	limiter := newFailureLimiter(cfg.FailureLimit, cfg.FailureWindow)
	policy := Policy{Public: cfg.Public, Protected: cfg.Protected}
	var rules sync.Map // procedure → methodRule, resolved once per method
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			cached, ok := rules.Load(spec.Procedure)
			if !ok {
				cached, _ = rules.LoadOrStore(spec.Procedure, methodRule{
					public: policy.IsPublic(spec),
					scope:  scopeOf(spec),
					health: switchboard.ProcedureMatches(healthProcedures, spec.Procedure),
				})
			}
			rule := cached.(methodRule)
			var header *connect.Header
			if info, ok := connect.CallInfoForServerContext(ctx); ok {
				header = info.RequestHeader()
			} else {
				header = new(connect.Header)
			}
			// The peer is named only for a refusal: an accepted call does not
			// pay to parse its address here.
			from := func() string { return peer.IP(ctx, cfg.TrustedProxies) }
			var principal *switchboard.Principal
			if authn != nil {
				var err error
				principal, err = authn.Authenticate(ctx, header)
				switch {
				case errors.Is(err, ErrInvalidCredentials):
					ip := from()
					reject(cfg.Events, spec, ip, ReasonInvalidCredentials, err)
					if wait := limiter.fail(ip, rule.health); wait > 0 {
						return fail(ctx, connect.CodeResourceExhausted, ReasonTooManyFailures,
							"too many failed authentication attempts; retry later", wait)
					}
					return fail(ctx, connect.CodeUnauthenticated, ReasonInvalidCredentials, "invalid credentials", 0)
				case err != nil && ctx.Err() != nil:
					return rpcerr.Ended(ctx)
				case err != nil:
					return fail(ctx, connect.CodeUnavailable, ReasonAuthUnavailable,
						"authentication is unavailable; retry later", time.Second).WithCause(err)
				}
			}
			switch {
			case principal == nil && rule.public:
				return next(ctx, spec, stream)
			case principal == nil:
				reject(cfg.Events, spec, from(), ReasonMissingCredentials, nil)
				return fail(ctx, connect.CodeUnauthenticated, ReasonMissingCredentials, "credentials required", 0)
			case !rule.public && !rule.allows(principal, spec.Procedure):
				reject(cfg.Events, spec, from(), ReasonMissingScope, &CredentialError{KeyID: principal.KeyID})
				return fail(ctx, connect.CodePermissionDenied, ReasonMissingScope,
					"the API key has no scope for "+spec.Procedure, 0)
			}
			return next(callctx.WithPrincipal(ctx, principal), spec, stream)
		}
	}
}

// reject tells the event bus about a call refused for its credentials.
func reject(bus *events.Bus, spec connect.Spec, from, reason string, err error) {
	if bus == nil {
		return
	}
	ev := events.Event{Kind: events.KeyRejected, Procedure: strings.TrimPrefix(spec.Procedure, "/"), Reason: reason, PeerIP: from}
	var cerr *CredentialError
	if errors.As(err, &cerr) {
		ev.KeyID = cerr.KeyID
	}
	bus.Publish(ev)
}

func fail(ctx context.Context, code connect.Code, reason, message string, retry time.Duration) *connect.Error {
	return rpcerr.New(ctx, code, reason, message, retry)
}
