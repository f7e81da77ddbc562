package kit_test

// Calls that end because of their context — the client cancelled, its
// deadline passed, the server shut down — are reported as such everywhere
// (the client's status, the request log, the server log), never as server
// faults, whatever error the interrupted work returned.

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	"github.com/switchboardkit/switchboard"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// recorder keeps finished calls' records and the server's log lines.
type recorder struct {
	mu      sync.Mutex
	records []store.RequestLog
	lines   kittest.SyncBuffer
}

func (r *recorder) observe(rec *store.RequestLog) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, *rec)
}

// last returns the records of procedure once there are n, waiting for
// them: a record is made when the server-side call ends.
func (r *recorder) last(t *testing.T, procedure string, n int) []store.RequestLog {
	t.Helper()
	var out []store.RequestLog
	kittest.WaitFor(t, "the calls' records", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		out = out[:0]
		for _, rec := range r.records {
			if "/"+rec.Procedure == procedure {
				out = append(out, rec)
			}
		}
		return len(out) >= n
	})
	return out
}

// errorLines returns the log lines at ERROR level.
func (r *recorder) errorLines() []string {
	var out []string
	for _, line := range strings.Split(r.lines.String(), "\n") {
		var l struct{ Level string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Level == "ERROR" {
			out = append(out, line)
		}
	}
	return out
}

func (r *recorder) options(c *kit.Config) {
	c.CallSinks = append(c.CallSinks, sinkFunc(r.observe))
	c.Logger = slog.New(slog.NewJSONHandler(&r.lines, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestCancel_ClientCancelsAndDeadlinesAreNotServerFaults(t *testing.T) {
	rec := new(recorder)
	env := startEcho(t, storetest.SQLiteDSN(t), rec.options)
	client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), env.key), env.run.URL)))

	// The handler waits for the call's context, then fails with what a
	// database driver says when interrupted.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x", Fail: "interrupted"})
		done <- err
	}()
	kittest.WaitFor(t, "the call to reach the handler", func() bool { return env.handler.Calls.Load() >= 1 })
	cancel()
	kittest.Receive(t, done, "the cancelled call to end")
	deadlineCtx, stop := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer stop()
	_, err := client.Echo(deadlineCtx, &switchboardtestv1.EchoRequest{Text: "x", Fail: "interrupted"})
	if connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Errorf("client with a passed deadline saw %v", err)
	}

	got := rec.last(t, switchboardtestv1connect.EchoServiceEchoProcedure, 2)
	if got[0].Code != "canceled" || got[0].ErrorReason != "CANCELED" {
		t.Errorf("cancelled call logged as %s %s, want canceled CANCELED", got[0].Code, got[0].ErrorReason)
	}
	if got[1].Code != "deadline_exceeded" || got[1].ErrorReason != "DEADLINE_EXCEEDED" {
		t.Errorf("call past its deadline logged as %s %s, want deadline_exceeded", got[1].Code, got[1].ErrorReason)
	}
	if lines := rec.errorLines(); len(lines) > 0 {
		t.Errorf("ERROR lines for client-side endings: %v", lines)
	}
}

// slowAuth is an authenticator whose store hangs: it returns only when the
// call's context ends, with the driver's error.
type slowAuth struct{ entered chan struct{} }

func (a slowAuth) Authenticate(ctx context.Context, _ *connect.Header) (*switchboard.Principal, error) {
	a.entered <- struct{}{}
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

func TestCancel_DuringKeyLookupIsCanceledNotAuthUnavailable(t *testing.T) {
	rec := new(recorder)
	auth := slowAuth{entered: make(chan struct{}, 1)}
	env := startEcho(t, storetest.SQLiteDSN(t), rec.options, func(c *kit.Config) { c.Authenticator = auth })
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-auth.entered
		cancel()
	}()
	client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), env.key), env.run.URL)))
	_, _ = client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x"})
	got := rec.last(t, switchboardtestv1connect.EchoServiceEchoProcedure, 1)
	if got[0].Code != "canceled" || got[0].ErrorReason != "CANCELED" {
		t.Errorf("cancel during key lookup logged as %s %s, want canceled CANCELED", got[0].Code, got[0].ErrorReason)
	}
}

func TestCancel_CallsCutAtShutdownAreUnavailable(t *testing.T) {
	rec := new(recorder)
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.ShutdownGrace = 200 * time.Millisecond }, rec.options)
	client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), env.key), env.run.URL)))
	done := make(chan error, 1)
	go func() {
		_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x", Fail: "interrupted"})
		done <- err
	}()
	kittest.WaitFor(t, "the call to reach the handler", func() bool { return env.handler.Calls.Load() >= 1 })
	if err := env.run.Stop(); err != nil {
		t.Fatal(err)
	}
	got := rec.last(t, switchboardtestv1connect.EchoServiceEchoProcedure, 1)
	if got[0].Code != "unavailable" || got[0].ErrorReason != "SHUTTING_DOWN" {
		t.Errorf("call cut at shutdown logged as %s %s, want unavailable SHUTTING_DOWN", got[0].Code, got[0].ErrorReason)
	}
	kittest.Receive(t, done, "the cut call to end")
}
