package interceptors_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectinprocess"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/interceptors"
	"github.com/switchboardkit/switchboard/internal/echo"
)

// holdServer puts a Limiter in front of the echo service, plus an
// interceptor that parks calls whose text is "hold" until release closes, and
// reports the deadline each call saw.
func holdServer(t *testing.T, l *interceptors.Limiter, release <-chan struct{}, deadlines chan<- time.Duration) switchboardtestv1connect.EchoServiceClient {
	t.Helper()
	hold := func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			if d, ok := ctx.Deadline(); ok && deadlines != nil {
				deadlines <- time.Until(d)
			}
			return next(ctx, spec, &holdStream{ServerStream: stream, release: release})
		}
	}
	server := connect.NewServer(l.Interceptor(), hold)
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

func TestLimit_OverTheCapIsResourceExhaustedAtOnce(t *testing.T) {
	l := interceptors.NewLimiter(interceptors.WithMaxInFlight(1))
	release := make(chan struct{})
	client := holdServer(t, l, release, nil)
	held := make(chan error, 1)
	go func() {
		_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hold"})
		held <- err
	}()
	for l.InFlight() != 1 {
		time.Sleep(time.Millisecond)
	}
	_, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"})
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("second call: %v, want resource_exhausted", err)
	}
	if reason, _, _ := details(t, err); reason != interceptors.ReasonOverloaded {
		t.Errorf("reason %q", reason)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
		t.Errorf("after release: %v", err)
	}
	if l.Rejected() != 1 || l.InFlight() != 0 {
		t.Errorf("rejected %d in flight %d, want 1 and 0", l.Rejected(), l.InFlight())
	}
}

func TestLimit_PerMethodCapWithBoundedWait(t *testing.T) {
	l := interceptors.NewLimiter(interceptors.WithMaxInFlightPerMethod(1), interceptors.WithLimitWait(5*time.Second))
	release := make(chan struct{})
	client := holdServer(t, l, release, nil)
	go func() { _, _ = client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hold"}) }()
	for l.InFlight() != 1 {
		time.Sleep(time.Millisecond)
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
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-waited; err != nil {
		t.Errorf("a call that waited for a slot: %v", err)
	}
}

func TestLimit_DefaultDeadlineOnlyWhenTheClientSetNone(t *testing.T) {
	opts, err := interceptors.ParseDeadlines([]string{"*/Echo=2s", "*=1h"})
	if err != nil {
		t.Fatal(err)
	}
	deadlines := make(chan time.Duration, 3)
	client := holdServer(t, interceptors.NewLimiter(opts...), nil, deadlines)
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
	if _, err := interceptors.ParseDeadlines([]string{"*/Echo"}); err == nil {
		t.Error("ParseDeadlines accepted an item without a duration")
	}
}
