package callctx_test

import (
	"context"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectinprocess"

	"github.com/switchboardkit/switchboard"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/internal/callctx"
)

func TestPrincipal_AnOuterLayerSeesWhatAnInnerLayerSets(t *testing.T) {
	outer := callctx.Begin(context.Background())
	if callctx.Principal(outer) != nil {
		t.Fatal("principal before auth")
	}
	inner := callctx.WithPrincipal(outer, &switchboard.Principal{KeyID: "k1"})
	if switchboard.PrincipalFromContext(inner).KeyID != "k1" {
		t.Error("the inner context has no principal")
	}
	if p := switchboard.PrincipalFromContext(outer); p == nil || p.KeyID != "k1" {
		t.Error("the outer layer did not learn the principal")
	}
	if callctx.Principal(context.Background()) != nil || callctx.RequestID(context.Background()) != "" {
		t.Error("a context outside any call has a principal or request id")
	}
}

// TestPrincipal_NestedCallsKeepTheirOwn is the guard on sharing one record
// per call: a handler that calls another service in-process with its own
// context must neither lend its principal and request id to the inner call
// nor have them replaced by the inner call's.
func TestPrincipal_NestedCallsKeepTheirOwn(t *testing.T) {
	stamp := func(keyID, requestID string) connect.ServerInterceptor {
		return func(next connect.ServerFunc) connect.ServerFunc {
			return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
				if requestID != "" {
					ctx = callctx.WithRequestID(ctx, requestID)
				}
				if keyID != "" {
					ctx = callctx.WithPrincipal(ctx, &switchboard.Principal{KeyID: keyID})
				}
				return next(ctx, spec, stream)
			}
		}
	}
	seen := func(ctx context.Context) string {
		key := "anonymous"
		if p := switchboard.PrincipalFromContext(ctx); p != nil {
			key = p.KeyID
		}
		return key + "/" + callctx.RequestID(ctx)
	}

	for _, tc := range []struct {
		name       string
		innerStamp connect.ServerInterceptor
		wantInner  string
	}{
		{"inner call without auth", stamp("", ""), "anonymous/"},
		{"inner call with its own principal", stamp("inner-key", "inner-id"), "inner-key/inner-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := connect.NewServer(tc.innerStamp)
			var innerSaw string
			switchboardtestv1connect.RegisterEchoServiceHandler(inner, echoFunc(func(ctx context.Context) {
				innerSaw = seen(ctx)
			}))
			innerClient := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connectinprocess.New(inner)))

			outer := connect.NewServer(stamp("outer-key", "outer-id"))
			var before, after string
			switchboardtestv1connect.RegisterEchoServiceHandler(outer, echoFunc(func(ctx context.Context) {
				before = seen(ctx)
				if _, err := innerClient.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "nested"}); err != nil {
					t.Errorf("nested call: %v", err)
				}
				after = seen(ctx)
			}))
			client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connectinprocess.New(outer)))
			if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "outer"}); err != nil {
				t.Fatal(err)
			}
			if before != "outer-key/outer-id" || after != before {
				t.Errorf("outer handler saw %q before the nested call and %q after; want outer-key/outer-id both times", before, after)
			}
			if innerSaw != tc.wantInner {
				t.Errorf("inner handler saw %q, want %q", innerSaw, tc.wantInner)
			}
		})
	}
}

// echoFunc is an echo service whose Echo runs a function first.
type echoFunc func(context.Context)

func (f echoFunc) Echo(ctx context.Context, req *switchboardtestv1.EchoRequest) (*switchboardtestv1.EchoResponse, error) {
	f(ctx)
	return &switchboardtestv1.EchoResponse{Text: req.GetText()}, nil
}

func (echoFunc) Collect(context.Context, switchboardtestv1connect.EchoServiceCollectServerStream) (*switchboardtestv1.EchoResponse, error) {
	return nil, connect.NewError(connect.CodeUnimplemented, "not in this test")
}

func (echoFunc) Expand(context.Context, *switchboardtestv1.EchoRequest, switchboardtestv1connect.EchoServiceExpandServerStream) error {
	return connect.NewError(connect.CodeUnimplemented, "not in this test")
}

func (echoFunc) Chat(context.Context, switchboardtestv1connect.EchoServiceChatServerStream) error {
	return connect.NewError(connect.CodeUnimplemented, "not in this test")
}

func (f echoFunc) PublicEcho(ctx context.Context, req *switchboardtestv1.EchoRequest) (*switchboardtestv1.EchoResponse, error) {
	return f.Echo(ctx, req)
}
