package interceptors

// Limit: sits right after auth (so an unauthenticated flood is turned away
// before it takes a slot) and before errors. It caps calls in flight, over
// the whole server and per method, answering RESOURCE_EXHAUSTED at once or
// after a short bounded wait; and it gives calls whose client set no deadline
// a per-method default one. It puts the deadline on the context, nothing
// else.

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
)

// ReasonOverloaded is the ErrorInfo reason of a call refused by Limit.
const ReasonOverloaded = "OVERLOADED"

type limitOptions struct {
	global    int
	perMethod int
	wait      time.Duration
	deadlines []deadlineRule
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
}

// NewLimiter returns a limiter; its Interceptor goes into the chain.
func NewLimiter(opts ...LimitOption) *Limiter {
	l := &Limiter{methods: make(map[string]chan struct{})}
	for _, opt := range opts {
		opt(&l.o)
	}
	if l.o.global > 0 {
		l.global = make(chan struct{}, l.o.global)
	}
	return l
}

// InFlight reports calls running now; Rejected, calls refused so far.
func (l *Limiter) InFlight() int64 { return l.inFlight.Load() }
func (l *Limiter) Rejected() int64 { return l.rejected.Load() }

// Interceptor returns the limiting interceptor.
func (l *Limiter) Interceptor() connect.ServerInterceptor {
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
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
