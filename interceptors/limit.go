package interceptors

// Limit: sits right after auth (so an unauthenticated flood is turned away
// before it takes a slot, and the caller is known) and before errors. It caps
// calls in flight, over the whole server and per method, answering
// RESOURCE_EXHAUSTED at once or after a short bounded wait; it caps open
// streams (client, server and bidi calls) over the server, per method and for
// anonymous callers, refusing at once; and it gives calls whose client set no
// deadline a per-method default one. It puts the deadline on the context,
// nothing else. Every cap is per process.

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
)

// Reasons in the ErrorInfo of calls refused by Limit.
const (
	ReasonOverloaded     = "OVERLOADED"
	ReasonTooManyStreams = "TOO_MANY_STREAMS"
)

type limitOptions struct {
	global    int
	perMethod int
	wait      time.Duration
	deadlines []deadlineRule
	streams   streamCaps
}

// streamCaps bound open streams; 0 is no cap.
type streamCaps struct {
	global, perMethod, anonymous, anonymousPerPeer int
	trusted                                        []netip.Prefix
}

type deadlineRule struct {
	pattern string
	timeout time.Duration
}

// LimitOption configures Limit.
type LimitOption func(*limitOptions)

// WithMaxInFlight caps calls in flight over the whole server (0: no cap,
// the default).
func WithMaxInFlight(n int) LimitOption { return func(o *limitOptions) { o.global = n } }

// WithMaxInFlightPerMethod caps calls in flight per procedure (0: no cap,
// the default).
func WithMaxInFlightPerMethod(n int) LimitOption { return func(o *limitOptions) { o.perMethod = n } }

// WithMaxStreams caps open streams (client, server and bidi calls) over the
// whole server; a stream over it is refused at once with RESOURCE_EXHAUSTED
// (0: no cap, the default here; the kit's config sets one).
func WithMaxStreams(n int) LimitOption { return func(o *limitOptions) { o.streams.global = n } }

// WithMaxStreamsPerMethod caps open streams per procedure (0: no cap).
func WithMaxStreamsPerMethod(n int) LimitOption {
	return func(o *limitOptions) { o.streams.perMethod = n }
}

// WithMaxAnonymousStreams caps open streams whose caller presented no
// credentials — the ones anybody can open on a public method (0: no cap).
func WithMaxAnonymousStreams(n int) LimitOption {
	return func(o *limitOptions) { o.streams.anonymous = n }
}

// WithMaxAnonymousStreamsPerPeer caps the streams one peer opens without
// credentials, so a single client cannot take every anonymous slot (0: no
// cap). The peer is counted as auth counts it: its IP (IPv6: its /64), or
// the client behind a proxy in trusted.
func WithMaxAnonymousStreamsPerPeer(n int, trusted ...netip.Prefix) LimitOption {
	return func(o *limitOptions) { o.streams.anonymousPerPeer, o.streams.trusted = n, trusted }
}

// WithLimitWait lets a call over a cap wait this long for a slot before it is
// refused (default 0: refuse at once).
func WithLimitWait(d time.Duration) LimitOption { return func(o *limitOptions) { o.wait = d } }

// WithDefaultDeadline gives calls to procedures matching pattern this
// deadline when the client set none. Rules are tried in the order given.
func WithDefaultDeadline(pattern string, timeout time.Duration) LimitOption {
	return func(o *limitOptions) { o.deadlines = append(o.deadlines, deadlineRule{pattern, timeout}) }
}

// ParseDeadlines reads "pattern=duration" items ("*/ListPets=2s").
func ParseDeadlines(items []string) ([]LimitOption, error) {
	var out []LimitOption
	for _, item := range items {
		pattern, d, ok := strings.Cut(item, "=")
		timeout, err := time.ParseDuration(strings.TrimSpace(d))
		if !ok || err != nil || timeout <= 0 || strings.TrimSpace(pattern) == "" {
			return nil, &deadlineSyntaxError{item}
		}
		out = append(out, WithDefaultDeadline(strings.TrimSpace(pattern), timeout))
	}
	return out, nil
}

type deadlineSyntaxError struct{ item string }

func (e *deadlineSyntaxError) Error() string {
	return "default deadline " + `"` + e.item + `"` + ` is not "pattern=duration" with a positive duration`
}

// Limiter is the state of a Limit interceptor: its counters feed metrics.
type Limiter struct {
	o        limitOptions
	global   chan struct{}
	mu       sync.Mutex
	methods  map[string]chan struct{}
	inFlight atomic.Int64
	rejected atomic.Int64

	streams          atomic.Int64 // open streams
	anonymousStreams atomic.Int64
	methodStreams    sync.Map // procedure → *atomic.Int64
	peerMu           sync.Mutex
	peerStreams      map[string]int // anonymous streams by peer; no zero entries
}

// NewLimiter returns a limiter; its Interceptor goes into the chain.
func NewLimiter(opts ...LimitOption) *Limiter {
	l := &Limiter{methods: make(map[string]chan struct{}), peerStreams: make(map[string]int)}
	for _, opt := range opts {
		opt(&l.o)
	}
	if l.o.global > 0 {
		l.global = make(chan struct{}, l.o.global)
	}
	return l
}

// InFlight reports calls running now; Rejected, calls refused so far (over a
// cap of calls or of streams); Streams, streams open now.
func (l *Limiter) InFlight() int64 { return l.inFlight.Load() }
func (l *Limiter) Rejected() int64 { return l.rejected.Load() }
func (l *Limiter) Streams() int64  { return l.streams.Load() }

// Interceptor returns the limiting interceptor.
func (l *Limiter) Interceptor() connect.ServerInterceptor {
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			if spec.StreamType != connect.StreamTypeUnary {
				closeStream, ok := l.openStream(ctx, spec.Procedure)
				if !ok {
					l.rejected.Add(1)
					return statusError(ctx, "switchboard", connect.CodeResourceExhausted, ReasonTooManyStreams,
						"the server has too many open streams; retry later", time.Second)
				}
				defer closeStream()
				if spec.StreamType != connect.StreamTypeServer {
					// Admitted: a client stream sends when it pleases.
					liftBodyDeadline(ctx)
				}
			}
			release, ok := l.acquire(ctx, spec.Procedure)
			if !ok {
				l.rejected.Add(1)
				return overloaded(ctx, l.o.wait)
			}
			defer release()
			l.inFlight.Add(1)
			defer l.inFlight.Add(-1)
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

func (l *Limiter) deadline(procedure string) time.Duration {
	for _, r := range l.o.deadlines {
		if switchboard.ProcedureMatches(r.pattern, procedure) {
			return r.timeout
		}
	}
	return 0
}

func (l *Limiter) method(procedure string) chan struct{} {
	if l.o.perMethod <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.methods[procedure]
	if !ok {
		ch = make(chan struct{}, l.o.perMethod)
		l.methods[procedure] = ch
	}
	return ch
}

// noRelease is what acquire returns when no cap is configured.
func noRelease() {}

// acquire takes a global and a per-method slot, waiting at most o.wait in
// all. With no caps configured it does nothing at all; the wait timer is
// started only when a slot is not free at once.
func (l *Limiter) acquire(ctx context.Context, procedure string) (func(), bool) {
	perMethod := l.method(procedure)
	if l.global == nil && perMethod == nil {
		return noRelease, true
	}
	var timeout <-chan time.Time
	var held []chan struct{}
	release := func() {
		for _, ch := range held {
			<-ch
		}
	}
	for _, sem := range []chan struct{}{l.global, perMethod} {
		if sem == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
			held = append(held, sem)
			continue
		default:
		}
		if l.o.wait <= 0 {
			release()
			return nil, false
		}
		if timeout == nil {
			t := time.NewTimer(l.o.wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case sem <- struct{}{}:
			held = append(held, sem)
		case <-timeout:
			release()
			return nil, false
		case <-ctx.Done():
			release()
			return nil, false
		}
	}
	return release, true
}

func overloaded(ctx context.Context, wait time.Duration) error {
	return statusError(ctx, "switchboard", connect.CodeResourceExhausted, ReasonOverloaded,
		"the server is at its limit of concurrent calls; retry later", max(wait, 100*time.Millisecond))
}

// openStream counts one more open stream against the global, per-method and
// (for a caller without credentials) anonymous caps; it takes all or none.
func (l *Limiter) openStream(ctx context.Context, procedure string) (func(), bool) {
	caps := l.o.streams
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
	ok := take(&l.streams, caps.global)
	if ok && caps.perMethod > 0 {
		c, _ := l.methodStreams.LoadOrStore(procedure, new(atomic.Int64))
		ok = take(c.(*atomic.Int64), caps.perMethod)
	}
	var peer string
	if ok && switchboard.PrincipalFromContext(ctx) == nil {
		ok = take(&l.anonymousStreams, caps.anonymous)
		if ok && caps.anonymousPerPeer > 0 {
			peer = limiterKey(peerIP(ctx, caps.trusted))
			if ok = l.takePeer(peer); !ok {
				peer = ""
			}
		}
	}
	if !ok {
		undo()
		return nil, false
	}
	return func() {
		undo()
		if peer != "" {
			l.releasePeer(peer)
		}
	}, true
}

func (l *Limiter) takePeer(peer string) bool {
	l.peerMu.Lock()
	defer l.peerMu.Unlock()
	if l.peerStreams[peer] >= l.o.streams.anonymousPerPeer {
		return false
	}
	l.peerStreams[peer]++
	return true
}

func (l *Limiter) releasePeer(peer string) {
	l.peerMu.Lock()
	defer l.peerMu.Unlock()
	if l.peerStreams[peer]--; l.peerStreams[peer] <= 0 {
		delete(l.peerStreams, peer)
	}
}

type bodyDeadlineKey struct{}

// WithBodyDeadlineLift returns ctx carrying lift, which removes the read
// deadline the server put on the request body. The limiter calls it once a
// client or bidi stream is admitted — past auth and the stream caps — so
// only admitted streams may send slowly; a refused one keeps the deadline,
// and the server's drain of its unread body stays bounded.
func WithBodyDeadlineLift(ctx context.Context, lift func()) context.Context {
	return context.WithValue(ctx, bodyDeadlineKey{}, lift)
}

func liftBodyDeadline(ctx context.Context) {
	if lift, ok := ctx.Value(bodyDeadlineKey{}).(func()); ok {
		lift()
	}
}
