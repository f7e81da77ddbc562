package limit

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config sets the caps. 0 is "no cap" for every one of them; DefaultConfig
// sets the stream caps the kit ships with.
type Config struct {
	// MaxInFlight caps calls running at once over the server.
	MaxInFlight int
	// MaxInFlightPerMethod caps calls running at once per method.
	MaxInFlightPerMethod int
	// MaxStreams caps streaming calls (client, server, bidi) open at once.
	MaxStreams int
	// MaxStreamsPerMethod caps streaming calls open at once per method.
	MaxStreamsPerMethod int
	// MaxAnonymousStreams caps streaming calls open at once by callers
	// without credentials, the ones anyone can open on a public method.
	MaxAnonymousStreams int
	// MaxAnonymousStreamsPerPeer caps the streams one peer opens without
	// credentials, so one client cannot take every anonymous slot. The peer
	// is its IP (IPv6: its /64), or the client behind a trusted proxy.
	MaxAnonymousStreamsPerPeer int
	// Wait lets a call over a cap of calls wait this long for a slot (0:
	// refuse at once). Streams over a cap are always refused at once.
	Wait time.Duration
	// Deadlines give calls without a client deadline one, tried in order.
	Deadlines []Deadline
	// TrustedProxies are the proxies whose X-Forwarded-For names the peer.
	TrustedProxies []netip.Prefix
	// Counters, when set, receive the limiter's counts.
	Counters *Counters
}

// Deadline is a default deadline for the procedures matching Pattern.
type Deadline struct {
	Pattern string
	Timeout time.Duration
}

// DefaultConfig returns the defaults: no cap on calls, 1000 open streams,
// 500 per method, 200 anonymous, 20 anonymous per peer.
func DefaultConfig() Config {
	return Config{MaxStreams: 1000, MaxStreamsPerMethod: 500, MaxAnonymousStreams: 200, MaxAnonymousStreamsPerPeer: 20}
}

// ParseDeadline reads "pattern=duration" ("*/ListPets=2s").
func ParseDeadline(item string) (Deadline, error) {
	pattern, d, ok := strings.Cut(item, "=")
	timeout, err := time.ParseDuration(strings.TrimSpace(d))
	if !ok || err != nil || timeout <= 0 || strings.TrimSpace(pattern) == "" {
		return Deadline{}, fmt.Errorf("default deadline %q is not \"pattern=duration\" with a positive duration", item)
	}
	return Deadline{Pattern: strings.TrimSpace(pattern), Timeout: timeout}, nil
}

// String writes d as ParseDeadline reads it.
func (d Deadline) String() string { return d.Pattern + "=" + d.Timeout.String() }
