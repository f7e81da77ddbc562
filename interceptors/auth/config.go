package auth

import (
	"net/netip"
	"time"

	"github.com/switchboardkit/switchboard/events"
)

// Config tunes the auth interceptor. Start from DefaultConfig: a zero field
// means what its comment says, which is not always the default.
type Config struct {
	// Public are procedure patterns callable without credentials, beyond
	// the methods marked (switchboard.v1.access) = ACCESS_PUBLIC. A method
	// that names a scope of its own (the admin API) is made public only by
	// its exact name, never by a wildcard.
	Public []string
	// Protected are procedure patterns that always need credentials; they
	// win over every other rule (fail closed).
	Protected []string
	// FailureLimit is how many bad credentials one peer may send per
	// FailureWindow; past it each further bad credential is answered
	// RESOURCE_EXHAUSTED with RetryInfo until the window ends. Valid
	// credentials, anonymous calls and health checks are never refused by
	// it. The peer is its IP address (IPv6: its /64), or the client behind a
	// trusted proxy. 0: off.
	FailureLimit int
	// FailureWindow is the limit's fixed window; ≤ 0 turns the limit off.
	FailureWindow time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the peer.
	TrustedProxies []netip.Prefix
	// Events, when set, is told of every call refused for bad, missing or
	// insufficient credentials (events.KeyRejected).
	Events *events.Bus
}

// DefaultConfig returns the defaults: no extra public or protected
// procedures, and 20 bad credentials per peer per minute.
func DefaultConfig() Config {
	return Config{FailureLimit: 20, FailureWindow: time.Minute}
}
