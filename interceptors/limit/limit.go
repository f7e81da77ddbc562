package limit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/internal/peer"
	"github.com/switchboardkit/switchboard/internal/rpcerr"
)

// Reasons in the ErrorInfo of calls refused by the limiter.
const (
	ReasonOverloaded     = "OVERLOADED"
	ReasonTooManyStreams = "TOO_MANY_STREAMS"
)

// Counters report what a limiter sees; metrics and the admin API read them.
// The zero value is ready; share one with the interceptor through
// Config.Counters.
type Counters struct {
	inFlight atomic.Int64
	rejected atomic.Int64
	streams  atomic.Int64
}

// InFlight reports calls running now.
func (c *Counters) InFlight() int64 { return c.inFlight.Load() }

// Rejected reports calls refused so far, over a cap of calls or of streams.
func (c *Counters) Rejected() int64 { return c.rejected.Load() }

// Streams reports streams open now.
func (c *Counters) Streams() int64 { return c.streams.Load() }

type limiter struct {
	cfg      Config
	counters *Counters
	global   chan struct{}
	mu       sync.Mutex
	methods  map[string]chan struct{}

	anonymousStreams atomic.Int64
	methodStreams    sync.Map // procedure → *atomic.Int64
	peerMu           sync.Mutex
	peerStreams      map[string]int // anonymous streams by peer; no zero entries
}

// New returns the limiting interceptor.
func New(cfg Config) connect.ServerInterceptor {
	l := &limiter{cfg: cfg, counters: cfg.Counters, methods: make(map[string]chan struct{}), peerStreams: make(map[string]int)}
	if l.counters == nil {
		l.counters = new(Counters)
	}
	if cfg.MaxInFlight > 0 {
		l.global = make(chan struct{}, cfg.MaxInFlight)
	}
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			if spec.StreamType != connect.StreamTypeUnary {
				closeStream, ok := l.openStream(ctx, spec.Procedure)
				if !ok {
					l.counters.rejected.Add(1)
					return rpcerr.New(ctx, connect.CodeResourceExhausted, ReasonTooManyStreams,
						"the server has too many open streams; retry later", time.Second)
				}
				defer closeStream()
			}
			held, ok := l.acquire(ctx, spec.Procedure)
			if !ok {
				l.counters.rejected.Add(1)
				return overloaded(ctx, l.cfg.Wait)
			}
			defer held.release()
			if spec.StreamType == connect.StreamTypeClient || spec.StreamType == connect.StreamTypeBidi {
				// Admitted past every cap: a client stream sends when it
				// pleases. A refused one keeps its body deadline.
				callctx.LiftBodyDeadline(ctx)
			}
			l.counters.inFlight.Add(1)
			defer l.counters.inFlight.Add(-1)
			if _, has := ctx.Deadline(); !has {
				if d := l.deadline(spec.Procedure); d > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, d)
					defer cancel()
				}
			}
			return next(ctx, spec, stream)
		}
	}
}

func (l *limiter) deadline(procedure string) time.Duration {
	for _, r := range l.cfg.Deadlines {
		if switchboard.ProcedureMatches(r.Pattern, procedure) {
			return r.Timeout
		}
	}
	return 0
}

func (l *limiter) method(procedure string) chan struct{} {
	if l.cfg.MaxInFlightPerMethod <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.methods[procedure]
	if !ok {
		ch = make(chan struct{}, l.cfg.MaxInFlightPerMethod)
		l.methods[procedure] = ch
	}
	return ch
}

// slots are the concurrency slots one call holds: a value, so holding and
// releasing them costs the call no allocation.
type slots [2]chan struct{}

func (s slots) release() {
	for _, ch := range s {
		if ch != nil {
			<-ch
		}
	}
}

// acquire takes a global and a per-method slot, waiting at most o.wait in
// all. With no caps configured it does nothing at all; the wait timer is
// started only when a slot is not free at once.
func (l *limiter) acquire(ctx context.Context, procedure string) (slots, bool) {
	var held slots
	var timeout <-chan time.Time
	for i, sem := range [2]chan struct{}{l.global, l.method(procedure)} {
		if sem == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
			held[i] = sem
			continue
		default:
		}
		if l.cfg.Wait <= 0 {
			held.release()
			return slots{}, false
		}
		if timeout == nil {
			t := time.NewTimer(l.cfg.Wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case sem <- struct{}{}:
			held[i] = sem
		case <-timeout:
			held.release()
			return slots{}, false
		case <-ctx.Done():
			held.release()
			return slots{}, false
		}
	}
	return held, true
}

func overloaded(ctx context.Context, wait time.Duration) error {
	return rpcerr.New(ctx, connect.CodeResourceExhausted, ReasonOverloaded,
		"the server is at its limit of concurrent calls; retry later", max(wait, 100*time.Millisecond))
}

// openStream counts one more open stream against the global, per-method and
// (for a caller without credentials) anonymous caps; it takes all or none.
func (l *limiter) openStream(ctx context.Context, procedure string) (func(), bool) {
	cfg := l.cfg
	var taken []*atomic.Int64
	undo := func() {
		for _, c := range taken {
			c.Add(-1)
		}
	}
	take := func(c *atomic.Int64, max int) bool {
		for {
			n := c.Load()
			if max > 0 && n >= int64(max) {
				return false
			}
			if c.CompareAndSwap(n, n+1) {
				taken = append(taken, c)
				return true
			}
		}
	}
	ok := take(&l.counters.streams, cfg.MaxStreams)
	if ok && cfg.MaxStreamsPerMethod > 0 {
		c, _ := l.methodStreams.LoadOrStore(procedure, new(atomic.Int64))
		ok = take(c.(*atomic.Int64), cfg.MaxStreamsPerMethod)
	}
	var from string
	if ok && switchboard.PrincipalFromContext(ctx) == nil {
		ok = take(&l.anonymousStreams, cfg.MaxAnonymousStreams)
		if ok && cfg.MaxAnonymousStreamsPerPeer > 0 {
			from = peer.Key(peer.IP(ctx, cfg.TrustedProxies))
			if ok = l.takePeer(from); !ok {
				from = ""
			}
		}
	}
	if !ok {
		undo()
		return nil, false
	}
	return func() {
		undo()
		if from != "" {
			l.releasePeer(from)
		}
	}, true
}

func (l *limiter) takePeer(peer string) bool {
	l.peerMu.Lock()
	defer l.peerMu.Unlock()
	if l.peerStreams[peer] >= l.cfg.MaxAnonymousStreamsPerPeer {
		return false
	}
	l.peerStreams[peer]++
	return true
}

func (l *limiter) releasePeer(peer string) {
	l.peerMu.Lock()
	defer l.peerMu.Unlock()
	if l.peerStreams[peer]--; l.peerStreams[peer] <= 0 {
		delete(l.peerStreams, peer)
	}
}
