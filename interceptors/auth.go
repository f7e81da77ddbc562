package interceptors

// Auth: the second interceptor. It decides from the request headers alone —
// before any payload is read or decoded — whether the call may proceed:
// it asks an Authenticator who the caller is, applies the method's access
// level (the (switchboard.v1.access) option, or config), checks scopes, and
// puts the Principal on the context (switchboard.PrincipalFromContext).
// A peer that keeps sending bad credentials gets RESOURCE_EXHAUSTED for each
// further bad one; its valid keys, anonymous calls and health checks are
// never refused for it.

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard"
	switchboardv1 "github.com/switchboardkit/switchboard/gen/switchboard/v1"
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

// Reasons in the ErrorInfo of auth failures.
const (
	ReasonMissingCredentials = "MISSING_CREDENTIALS"
	ReasonInvalidCredentials = "INVALID_CREDENTIALS"
	ReasonMissingScope       = "MISSING_SCOPE"
	ReasonTooManyFailures    = "TOO_MANY_FAILED_ATTEMPTS"
	ReasonAuthUnavailable    = "AUTH_UNAVAILABLE"
)

type authOptions struct {
	rejected    []func(ctx context.Context, r Rejection)
	policy      Policy
	trusted     []netip.Prefix
	maxFailures int
	window      time.Duration
	domain      string
}

// AuthOption configures Auth.
type AuthOption func(*authOptions)

// WithPublicProcedures makes procedures matching the patterns public
// ("grpc.reflection.*/*"), whatever their proto option says.
func WithPublicProcedures(patterns ...string) AuthOption {
	return func(o *authOptions) { o.policy.Public = append(o.policy.Public, patterns...) }
}

// WithProtectedProcedures makes procedures matching the patterns protected;
// it wins over everything else (fail closed).
func WithProtectedProcedures(patterns ...string) AuthOption {
	return func(o *authOptions) { o.policy.Protected = append(o.policy.Protected, patterns...) }
}

// WithAuthTrustedProxies lets X-Forwarded-For name the peer that failure
// limits apply to when the direct peer is in prefixes.
func WithAuthTrustedProxies(prefixes ...netip.Prefix) AuthOption {
	return func(o *authOptions) { o.trusted = append(o.trusted, prefixes...) }
}

// WithFailureLimit allows max failed credential checks per peer per window;
// past it, every further bad credential from the peer is answered
// RESOURCE_EXHAUSTED with RetryInfo until the window ends (default 20 per
// minute; max 0 turns the limit off). Valid credentials, anonymous calls and
// health checks are never refused by it. The peer is the TCP peer's address,
// or the client named by X-Forwarded-For when the TCP peer is a trusted
// proxy; IPv6 peers are counted by their /64.
func WithFailureLimit(max int, window time.Duration) AuthOption {
	return func(o *authOptions) { o.maxFailures, o.window = max, window }
}

// Rejection describes a call auth refused because of its credentials.
type Rejection struct {
	Procedure string
	Reason    string // one of the Reason* constants
	PeerIP    string
	// KeyID is the id the rejected credentials claimed, when the
	// authenticator could tell (see CredentialError).
	KeyID string
}

// WithRejectionObserver calls fn for every call refused for bad, missing or
// insufficient credentials; fn runs on the call's goroutine and must not
// block.
func WithRejectionObserver(fn func(ctx context.Context, r Rejection)) AuthOption {
	return func(o *authOptions) { o.rejected = append(o.rejected, fn) }
}

// CredentialError is an invalid-credentials error that names the key it was
// about. It matches ErrInvalidCredentials with errors.Is.
type CredentialError struct {
	KeyID  string
	Detail string
}

func (e *CredentialError) Error() string        { return "invalid credentials: " + e.Detail }
func (e *CredentialError) Is(target error) bool { return target == ErrInvalidCredentials }

// healthProcedures are public unless configured otherwise: load balancers
// probe without credentials.
const healthProcedures = "grpc.health.v1.Health/*"

// Auth returns the auth interceptor. A nil authenticator accepts no
// credentials at all: public methods work, everything else is refused.
func Auth(authn Authenticator, opts ...AuthOption) connect.ServerInterceptor {
	o := authOptions{maxFailures: 20, window: time.Minute, domain: "switchboard"}
	for _, opt := range opts {
		opt(&o)
	}
	limiter := newFailureLimiter(o.maxFailures, o.window)
	var rules sync.Map // procedure → methodRule, resolved once per method
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			cached, ok := rules.Load(spec.Procedure)
			if !ok {
				cached, _ = rules.LoadOrStore(spec.Procedure, methodRule{
					public: o.policy.IsPublic(spec),
					scope:  ScopeOf(spec),
					health: switchboard.ProcedureMatches(healthProcedures, spec.Procedure),
				})
			}
			rule := cached.(methodRule)
			info, _ := connect.CallInfoForServerContext(ctx)
			header := new(connect.Header)
			if info != nil {
				header = info.RequestHeader()
			}
			peer := peerIP(ctx, o.trusted)
			var principal *switchboard.Principal
			if authn != nil {
				var err error
				principal, err = authn.Authenticate(ctx, header)
				switch {
				case errors.Is(err, ErrInvalidCredentials):
					o.reject(ctx, spec, peer, ReasonInvalidCredentials, err)
					if wait := limiter.fail(peer, rule.health); wait > 0 {
						return o.fail(ctx, connect.CodeResourceExhausted, ReasonTooManyFailures,
							"too many failed authentication attempts; retry later", wait)
					}
					return o.fail(ctx, connect.CodeUnauthenticated, ReasonInvalidCredentials, "invalid credentials", 0)
				case err != nil && ctx.Err() != nil:
					return ctxError(ctx, o.domain)
				case err != nil:
					return o.fail(ctx, connect.CodeUnavailable, ReasonAuthUnavailable,
						"authentication is unavailable; retry later", time.Second).WithCause(err)
				}
			}
			switch {
			case principal == nil && rule.public:
				return next(ctx, spec, stream)
			case principal == nil:
				o.reject(ctx, spec, peer, ReasonMissingCredentials, nil)
				return o.fail(ctx, connect.CodeUnauthenticated, ReasonMissingCredentials, "credentials required", 0)
			case !rule.public && !rule.allows(principal, spec.Procedure):
				o.reject(ctx, spec, peer, ReasonMissingScope, &CredentialError{KeyID: principal.KeyID})
				return o.fail(ctx, connect.CodePermissionDenied, ReasonMissingScope,
					"the API key has no scope for "+spec.Procedure, 0)
			}
			return next(switchboard.WithPrincipal(ctx, principal), spec, stream)
		}
	}
}

// methodRule is what auth needs to know about one method, read from its
// schema and the config once.
type methodRule struct {
	public bool
	scope  string // the granting scope named by (switchboard.v1.scope), if any
	health bool   // health checks are never limited
}

// allows reports whether p may call the protected method. A method that
// names a scope (the admin API: "admin") is granted by that named scope
// alone — no procedure pattern, "*" included, reaches it; any other method
// by a procedure pattern that matches it.
func (r methodRule) allows(p *switchboard.Principal, procedure string) bool {
	if r.scope != "" {
		return p.HasScope(r.scope)
	}
	return p.CanCall(procedure)
}

// ScopeOf reads the (switchboard.v1.scope) option from a method's schema.
func ScopeOf(spec connect.Spec) string {
	method, ok := spec.Schema.(protoreflect.MethodDescriptor)
	if !ok || method.Options() == nil {
		return ""
	}
	scope, _ := proto.GetExtension(method.Options(), switchboardv1.E_Scope).(string)
	return scope
}

// Policy decides which methods are public. Everything not public is
// protected: fail closed.
type Policy struct {
	Public    []string // procedure patterns made public by config
	Protected []string // procedure patterns always protected (they win)
}

// IsPublic resolves a method's access level: configured protected patterns,
// then configured public patterns, then health, then the proto option;
// anything else is protected. A method that names a scope of its own (the
// admin API) is made public only by its exact procedure name, never by a
// wildcard pattern.
func (p Policy) IsPublic(spec connect.Spec) bool {
	scoped := ScopeOf(spec) != ""
	match := func(patterns []string, exactOnly bool) bool {
		for _, pat := range patterns {
			if exactOnly && strings.ContainsAny(pat, `*?[\`) {
				continue
			}
			if switchboard.ProcedureMatches(pat, spec.Procedure) {
				return true
			}
		}
		return false
	}
	switch {
	case match(p.Protected, false):
		return false
	case match(p.Public, scoped), switchboard.ProcedureMatches(healthProcedures, spec.Procedure):
		return true
	}
	return AccessOf(spec) == switchboardv1.Access_ACCESS_PUBLIC
}

// AccessOf reads the (switchboard.v1.access) option from a method's schema;
// ACCESS_UNSPECIFIED when it has none.
func AccessOf(spec connect.Spec) switchboardv1.Access {
	method, ok := spec.Schema.(protoreflect.MethodDescriptor)
	if !ok || method.Options() == nil {
		return switchboardv1.Access_ACCESS_UNSPECIFIED
	}
	access, _ := proto.GetExtension(method.Options(), switchboardv1.E_Access).(switchboardv1.Access)
	return access
}

func (o *authOptions) reject(ctx context.Context, spec connect.Spec, peer, reason string, err error) {
	if len(o.rejected) == 0 {
		return
	}
	r := Rejection{Procedure: strings.TrimPrefix(spec.Procedure, "/"), Reason: reason, PeerIP: peer}
	var cerr *CredentialError
	if errors.As(err, &cerr) {
		r.KeyID = cerr.KeyID
	}
	for _, fn := range o.rejected {
		fn(ctx, r)
	}
}

func (o *authOptions) fail(ctx context.Context, code connect.Code, reason, message string, retry time.Duration) *connect.Error {
	return statusError(ctx, o.domain, code, reason, message, retry)
}

// failureLimiter counts failed credential checks per peer in fixed windows.
// It limits failures only: a peer over its limit gets RESOURCE_EXHAUSTED for
// each further bad credential, while its valid keys and anonymous calls
// (public methods, health) go through as ever — one bad client behind a
// shared address must not lock out everyone behind it.
type failureLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	peers  map[string]*failures
	now    func() time.Time
}

type failures struct {
	count int
	start time.Time
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window, peers: make(map[string]*failures), now: time.Now}
}

// fail counts one failed check from peer and returns how long the peer
// should wait before trying again once it is over the limit (0 while it is
// within it). Health checks are never counted nor refused.
func (l *failureLimiter) fail(peer string, health bool) time.Duration {
	if l.max <= 0 || health {
		return 0
	}
	key := limiterKey(peer)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f, ok := l.peers[key]
	if !ok || now.Sub(f.start) >= l.window {
		if len(l.peers) > 100_000 { // bound memory under a spray of peers
			clear(l.peers)
		}
		f = &failures{start: now}
		l.peers[key] = f
	}
	f.count++
	if f.count <= l.max {
		return 0
	}
	return f.start.Add(l.window).Sub(now)
}

// limiterKey is what failures are counted by: the IPv4 address, or the /64
// of an IPv6 address (one host usually holds a whole /64, so counting single
// IPv6 addresses would let it rotate past the limit).
func limiterKey(peer string) string {
	addr, err := netip.ParseAddr(peer)
	if err != nil {
		return peer
	}
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}
