package kit_test

// Stream caps under a real HTTP/2 client (gRPC-Go, one connection): a flood
// of public streams is bounded, refused with RESOURCE_EXHAUSTED, and never
// stops unary calls or callers with keys beyond their own caps.

import (
	"context"
	"testing"

	"connectrpc.com/connect/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// openStream opens procedure (Chat, or Expand with a count it will not
// finish) and waits for its first reply, proof that the server admitted it.
// It returns a func that closes the open stream, or the refusal.
func openStream(t *testing.T, conn *grpc.ClientConn, procedure, key string) (func(), connect.Code, string, bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	bidi := procedure == switchboardtestv1connect.EchoServiceChatProcedure
	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: bidi, ServerStreams: true}, procedure)
	if err == nil {
		err = s.SendMsg(&switchboardtestv1.EchoRequest{Text: "hi", Count: 1 << 30})
	}
	if err == nil && !bidi {
		err = s.CloseSend()
	}
	if err == nil {
		err = s.RecvMsg(new(switchboardtestv1.EchoResponse))
	}
	if err != nil {
		cancel()
		st := status.Convert(err)
		var reason string
		var retry bool
		for _, d := range st.Details() {
			switch d := d.(type) {
			case *errdetails.ErrorInfo:
				reason = d.GetReason()
			case *errdetails.RetryInfo:
				retry = true
			}
		}
		return nil, connect.Code(st.Code()), reason, retry
	}
	return cancel, 0, "", false
}

func TestStreams_CapsRefuseFloodsWithResourceExhausted(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.Limits.MaxStreams = 4
		c.Limits.MaxStreamsPerMethod = 3
		c.Limits.MaxAnonymousStreams = 2
		c.Auth.Public = []string{switchboardtestv1connect.EchoServiceChatProcedure}
	})
	conn := grpcConn(t, env)
	chat, expand := switchboardtestv1connect.EchoServiceChatProcedure, switchboardtestv1connect.EchoServiceExpandProcedure
	var open []func()
	defer func() {
		for _, c := range open {
			c()
		}
	}()
	step := func(name, procedure, key string, wantCode connect.Code) {
		t.Helper()
		closeIt, code, reason, retry := openStream(t, conn, procedure, key)
		if code != wantCode {
			t.Fatalf("%s: %v %q, want %v", name, code, reason, wantCode)
		}
		if code == connect.CodeResourceExhausted && (reason != "TOO_MANY_STREAMS" || !retry) {
			t.Errorf("%s: reason %q retry %v, want TOO_MANY_STREAMS with RetryInfo", name, reason, retry)
		}
		if closeIt != nil {
			open = append(open, closeIt)
		}
	}
	step("anonymous 1", chat, "", 0)
	step("anonymous 2", chat, "", 0)
	step("anonymous 3: over the anonymous cap", chat, "", connect.CodeResourceExhausted)
	step("keyed Chat: within the method cap", chat, env.key, 0)
	step("keyed Chat: over the method cap", chat, env.key, connect.CodeResourceExhausted)
	step("keyed Expand: another method", expand, env.key, 0)
	step("keyed Expand: over the global cap", expand, env.key, connect.CodeResourceExhausted)

	// Unary calls are not streams: they go on.
	if got, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key); err != nil {
		t.Errorf("unary call at the stream cap: %v %q", got.code, got.reason)
	}
	if rejected := env.srv.Limits().Rejected(); rejected != 3 {
		t.Errorf("rejected counter %d, want 3", rejected)
	}
	// A closed stream gives its slot back.
	open[0]()
	kittest.WaitFor(t, "the closed stream's slot to be released", func() bool {
		closeIt, code, _, _ := openStream(t, conn, chat, "")
		if code == 0 {
			open = append(open, closeIt)
		}
		return code == 0
	})
}

func TestStreams_OnePeerCannotTakeEveryAnonymousSlot(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.Limits.MaxAnonymousStreams = 10
		c.Limits.MaxAnonymousStreamsPerPeer = 2
		c.TrustedProxies = prefixes("127.0.0.0/8")
		c.Auth.Public = []string{switchboardtestv1connect.EchoServiceChatProcedure}
	})
	conn := grpcConn(t, env)
	open := func(client string) connect.Code {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "x-forwarded-for", client)
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, switchboardtestv1connect.EchoServiceChatProcedure)
		if err == nil {
			err = s.SendMsg(&switchboardtestv1.EchoRequest{Text: "hi"})
		}
		if err == nil {
			err = s.RecvMsg(new(switchboardtestv1.EchoResponse))
		}
		return connect.Code(status.Code(err))
	}
	for i, want := range []connect.Code{0, 0, connect.CodeResourceExhausted} {
		if got := open("203.0.113.5"); got != want {
			t.Errorf("stream %d from one client: %v, want %v", i+1, got, want)
		}
	}
	if got := open("203.0.113.6"); got != 0 {
		t.Errorf("another client behind the same proxy: %v, want its own slots", got)
	}
}
