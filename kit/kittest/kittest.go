// Package kittest runs a kit.Server on loopback for tests: real listener,
// real HTTP/1.1 and h2c, stopped when the test ends.
package kittest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store"
)

// Config returns kit defaults fit for a test: a free loopback port, the
// given database, a short grace period.
func Config(dsn string) kit.Config {
	cfg := kit.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DSN = dsn
	cfg.Reflection = true
	cfg.ShutdownGrace = 5 * time.Second
	cfg.FirstAdminKey = false // tests make the keys they need
	return cfg
}

// Running is a server started by Start.
type Running struct {
	// Addr is host:port of the listener; URL is http://Addr.
	Addr, URL string

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start runs srv until the test ends (or Stop is called) and waits until it
// listens.
func Start(t testing.TB, srv *kit.Server) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-r.done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start within 30s")
	}
	r.Addr = srv.Addr().String()
	r.URL = "http://" + r.Addr
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
	})
	return r
}

// Stop begins a graceful shutdown and waits for Run to return; it returns
// Run's error. Safe to call more than once. A shutdown that takes longer
// than a minute — far past any grace period a test sets — is an error.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(time.Minute):
			r.err = errors.New("kittest: the server did not stop within a minute")
		}
	})
	return r.err
}

// StopAsync begins a graceful shutdown and returns at once; Stop waits for it.
func (r *Running) StopAsync() { r.cancel() }

// H2CClient returns an HTTP client that speaks HTTP/2 without TLS, as gRPC
// clients do.
func H2CClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: protocols}}
}

// APIKey creates an API key with scopes in srv's database and returns the
// full secret, as `switchboard keys create` would print it.
func APIKey(t testing.TB, srv *kit.Server, name string, scopes ...string) string {
	t.Helper()
	secret, key, err := store.NewAPIKey(name, scopes, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateAPIKey(context.Background(), srv.DB(), key); err != nil {
		t.Fatalf("create API key: %v", err)
	}
	return secret
}

// WithBearer returns a copy of c that sends "Authorization: Bearer key" on
// every request (nil c means a plain HTTP/1.1 client).
func WithBearer(c *http.Client, key string) *http.Client {
	if c == nil {
		c = &http.Client{}
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *c
	out.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+key)
		return base.RoundTrip(r)
	})
	return &out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Bearer is gRPC-Go per-RPC credentials carrying an API key
// (grpc.WithPerRPCCredentials(kittest.Bearer(key))) over plaintext loopback.
type Bearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: tests
// run on loopback without TLS.
func (Bearer) RequireTransportSecurity() bool { return false }

// Logger sends a server's log to the test's log, shown when the test fails
// (or with -v), at debug level.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// WaitFor polls cond until it holds, failing the test with what after 10 s.
// It is the one way tests wait for an effect that happens on another
// goroutine or process (a released slot, a written row, a status change):
// never a bare sleep, never a loop without a deadline. cond must return
// promptly: bound any call it makes.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitWithin(t, 10*time.Second, what, cond)
}

// WaitWithin is WaitFor with its own bound, for effects known to take long
// (a replay after a minute-long outage).
func WaitWithin(t testing.TB, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for wait := time.Millisecond; !cond(); wait = min(2*wait, 100*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", bound, what)
		}
		time.Sleep(wait)
	}
}

// Receive returns the next value from ch, failing the test with what if
// none comes within 10 s: a channel receive in a test always has a deadline.
func Receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out after 10s waiting for %s", what)
		panic("unreachable")
	}
}

// LetTimePass lets d of real time pass, on purpose: for tests whose subject
// is the passage of time itself — a stream kept open past the server's
// timeouts, load before and after an outage, a client that sends slowly.
// why says which; it is logged. Never use it to wait for something to
// happen: that is WaitFor.
func LetTimePass(t testing.TB, d time.Duration, why string) {
	t.Helper()
	t.Logf("letting %v pass: %s", d, why)
	time.Sleep(d)
}
