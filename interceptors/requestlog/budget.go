package requestlog

import (
	"log/slog"
	"sync"
	"time"
)

// rowBudget is a token bucket per peer for the rows of failed calls.
type rowBudget struct {
	size   float64
	refill time.Duration // time to refill the whole bucket
	mu     sync.Mutex
	peers  map[string]*bucket
	now    func() time.Time
}

type bucket struct {
	tokens     float64
	last       time.Time
	suppressed int // calls counted only since the bucket ran dry
}

func newRowBudget(n int, refill time.Duration) *rowBudget {
	if n <= 0 {
		return nil
	}
	return &rowBudget{size: float64(n), refill: refill, peers: make(map[string]*bucket), now: time.Now}
}

// take reports whether peer may have one more row. It logs once when a peer
// runs dry, and once more, with the number of calls kept as counts only,
// when it has tokens again.
func (b *rowBudget) take(logger *slog.Logger, peer string) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	k, ok := b.peers[peer]
	if !ok {
		if len(b.peers) > 100_000 { // bound memory under a spray of peers
			clear(b.peers)
		}
		k = &bucket{tokens: b.size, last: now}
		b.peers[peer] = k
	}
	k.tokens = min(b.size, k.tokens+b.size*float64(now.Sub(k.last))/float64(b.refill))
	k.last = now
	if k.tokens < 1 {
		if k.suppressed == 0 {
			logger.Warn("request log: peer over its row budget for failed calls; further ones are counted, not stored",
				"peer", peer, "rows_per_minute", int(b.size))
		}
		k.suppressed++
		return false
	}
	if k.suppressed > 0 {
		logger.Info("request log: peer back within its row budget", "peer", peer, "counted_only", k.suppressed)
		k.suppressed = 0
	}
	k.tokens--
	return true
}
