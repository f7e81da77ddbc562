package limit_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectinprocess"

	"github.com/switchboardkit/switchboard"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/interceptors/limit"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/internal/chaintest"
	"github.com/switchboardkit/switchboard/internal/echo"
)

// holdServer puts the limiter in front of the echo service, plus an
// interceptor that parks calls whose text is "hold" until release closes, and
// reports the deadline each call saw.
func holdServer(t *testing.T, l connect.ServerInterceptor, release <-chan struct{}, deadlines chan<- time.Duration) switchboardtestv1connect.EchoServiceClient {
	t.Helper()
	hold := func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			if d, ok := ctx.Deadline(); ok && deadlines != nil {
				deadlines <- time.Until(d)
			}
			return next(ctx, spec, &holdStream{ServerStream: stream, release: release})
		}
	}
	server := connect.NewServer(l, hold)
	switchboardtestv1connect.RegisterEchoServiceHandler(server, &echo.Handler{})
	return switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connectinprocess.New(server)))
}

type holdStream struct {
	connect.ServerStream
	release <-chan struct{}
}

func (s *holdStream) Receive(msg any) error {
	if err := s.ServerStream.Receive(msg); err != nil {
		return err
	}
	if m, ok := msg.(*switchboardtestv1.EchoRequest); ok && m.GetText() == "hold" {
		<-s.release
	}
	return nil
}

// The tests run in a synctest bubble: synctest.Wait returns once every
// goroutine of the test is blocked, so "the first call holds its slot" and
// "the second call is waiting for one" are facts, not sleeps.

func TestLimit_OverTheCapIsResourceExhaustedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		counters := new(limit.Counters)
		release := make(chan struct{})
		client := holdServer(t, limit.New(limit.Config{MaxInFlight: 1, Counters: counters}), release, nil)
		held := make(chan error, 1)
		go func() {
			_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hold"})
			held <- err
		}()
		synctest.Wait()
		if counters.InFlight() != 1 {
			t.Fatalf("in flight %d, want the held call", counters.InFlight())
		}
		_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"})
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("second call: %v, want resource_exhausted", err)
		}
		if reason, _, _ := chaintest.Details(t, err); reason != limit.ReasonOverloaded {
			t.Errorf("reason %q", reason)
		}
		close(release)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
			t.Errorf("after release: %v", err)
		}
		synctest.Wait() // every handler has returned, its deferred release done
		if counters.Rejected() != 1 || counters.InFlight() != 0 {
			t.Errorf("rejected %d in flight %d, want 1 and 0", counters.Rejected(), counters.InFlight())
		}
	})
}

func TestLimit_PerMethodCapWithBoundedWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		counters := new(limit.Counters)
		release := make(chan struct{})
		client := holdServer(t, limit.New(limit.Config{MaxInFlightPerMethod: 1, Wait: 5 * time.Second, Counters: counters}), release, nil)
		held := make(chan error, 1)
		go func() {
			_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hold"})
			held <- err
		}()
		synctest.Wait()
		if counters.InFlight() != 1 {
			t.Fatalf("in flight %d, want the held call", counters.InFlight())
		}
		// Another method is not limited by Echo's cap.
		if _, err := client.PublicEcho(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
			t.Fatalf("other method: %v", err)
		}
		waited := make(chan error, 1)
		go func() {
			_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"})
			waited <- err
		}()
		synctest.Wait() // the second call is blocked, waiting for the slot
		select {
		case err := <-waited:
			t.Fatalf("the second call did not wait for the slot: %v", err)
		default:
		}
		close(release)
		if err := <-waited; err != nil {
			t.Errorf("a call that waited for a slot: %v", err)
		}
		if err := <-held; err != nil {
			t.Error(err)
		}
	})
}

func TestLimit_WaitIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		client := holdServer(t, limit.New(limit.Config{MaxInFlight: 1, Wait: 2 * time.Second}), release, nil)
		go func() { _, _ = client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hold"}) }()
		synctest.Wait()
		start := time.Now() // the bubble's clock: it moves only when every goroutine waits
		_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"})
		if connect.CodeOf(err) != connect.CodeResourceExhausted || time.Since(start) != 2*time.Second {
			t.Errorf("over the cap: %v after %v, want resource_exhausted after exactly the 2s wait", err, time.Since(start))
		}
	})
}

func TestLimit_DefaultDeadlineOnlyWhenTheClientSetNone(t *testing.T) {
	var rules []limit.Deadline
	for _, item := range []string{"*/Echo=2s", "*=1h"} {
		d, err := limit.ParseDeadline(item)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, d)
	}
	deadlines := make(chan time.Duration, 3)
	client := holdServer(t, limit.New(limit.Config{Deadlines: rules}), nil, deadlines)
	if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if d := <-deadlines; d <= 0 || d > 2*time.Second {
		t.Errorf("Echo deadline %v, want ≤ 2s", d)
	}
	if _, err := client.PublicEcho(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if d := <-deadlines; d < 59*time.Minute {
		t.Errorf("PublicEcho deadline %v, want the catch-all 1h", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Hour)
	defer cancel()
	if _, err := client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if d := <-deadlines; d < 2*time.Hour {
		t.Errorf("client deadline replaced: %v", d)
	}
	if _, err := limit.ParseDeadline("*/Echo"); err == nil {
		t.Error("ParseDeadline accepted an item without a duration")
	}
}

// openCollect opens a client stream and sends one message; with text
// "hold" the handler's first Receive blocks until release closes. It
// returns the call's outcome on done.
func openCollect(ctx context.Context, client switchboardtestv1connect.EchoServiceClient, text string) <-chan error {
	done := make(chan error, 1)
	go func() {
		s, err := client.Collect(ctx)
		if err == nil {
			if err = s.Send(&switchboardtestv1.EchoRequest{Text: text}); err == nil || errors.Is(err, io.EOF) {
				_, err = s.CloseAndReceive()
			}
		}
		done <- err
	}()
	return done
}

func TestLimit_StreamCapsRefuseAtOnceAndGiveSlotsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		counters := new(limit.Counters)
		release := make(chan struct{})
		client := holdServer(t, limit.New(limit.Config{MaxStreams: 2, Counters: counters}), release, nil)
		held := []<-chan error{openCollect(t.Context(), client, "hold"), openCollect(t.Context(), client, "hold")}
		synctest.Wait()
		if counters.Streams() != 2 {
			t.Fatalf("%d streams open, want 2", counters.Streams())
		}
		err := <-openCollect(t.Context(), client, "x")
		if reason, _, _ := chaintest.Details(t, err); connect.CodeOf(err) != connect.CodeResourceExhausted || reason != limit.ReasonTooManyStreams {
			t.Errorf("third stream: %v (%s), want resource_exhausted TOO_MANY_STREAMS", err, reason)
		}
		if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
			t.Errorf("a unary call at the stream cap: %v", err)
		}
		close(release)
		for _, done := range held {
			if err := <-done; err != nil {
				t.Errorf("held stream: %v", err)
			}
		}
		err = <-openCollect(t.Context(), client, "x")
		synctest.Wait() // the server's side of every stream has ended too
		if err != nil || counters.Streams() != 0 || counters.Rejected() != 1 {
			t.Errorf("after release: %v; streams %d rejected %d, want nil, 0, 1", err, counters.Streams(), counters.Rejected())
		}
	})
}

// Callers without credentials share their own cap; a caller auth let in
// does not count against it.
func TestLimit_AnonymousStreamsHaveACapOfTheirOwn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		signedIn := func(next connect.ServerFunc) connect.ServerFunc {
			return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
				if info, ok := connect.CallInfoForServerContext(ctx); ok && info.RequestHeader().Get("Authorization") != "" {
					ctx = callctx.WithPrincipal(ctx, &switchboard.Principal{KeyID: "k"})
				}
				return next(ctx, spec, stream)
			}
		}
		l := limit.New(limit.Config{MaxAnonymousStreams: 1})
		client := holdServer(t, func(next connect.ServerFunc) connect.ServerFunc { return signedIn(l(next)) }, release, nil)
		_ = openCollect(t.Context(), client, "hold")
		synctest.Wait()
		if err := <-openCollect(t.Context(), client, "x"); connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("second anonymous stream: %v, want resource_exhausted", err)
		}
		keyed := chaintest.WithToken(t.Context(), "admin")
		if err := <-openCollect(keyed, client, "x"); err != nil {
			t.Errorf("a signed-in stream at the anonymous cap: %v", err)
		}
	})
}
