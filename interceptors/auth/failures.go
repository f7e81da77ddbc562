package auth

import (
	"sync"
	"time"

	"github.com/switchboardkit/switchboard/internal/peer"
)

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
func (l *failureLimiter) fail(from string, health bool) time.Duration {
	if l.max <= 0 || health {
		return 0
	}
	key := peer.Key(from)
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
