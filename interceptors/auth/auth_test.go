package auth_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	healthv1 "github.com/switchboardkit/switchboard/gen/switchboardext/grpc/health/v1"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/health"
	"github.com/switchboardkit/switchboard/interceptors/auth"
	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestAuth_RejectsEveryShapeBeforeTheHandler(t *testing.T) {
	for _, sh := range chaintest.Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			f := chaintest.New(t, nil)
			for token, want := range map[string]connect.Code{
				"":       connect.CodeUnauthenticated, // no credentials on a protected method
				"forged": connect.CodeUnauthenticated, // bad credentials
				"reader": connect.CodePermissionDenied,
			} {
				_, err := sh.Call(chaintest.WithToken(t.Context(), token), f.Client, chaintest.Msgs("a", "b"))
				if connect.CodeOf(err) != want {
					t.Errorf("token %q: %v, want %v", token, err, want)
				}
			}
			if n := f.Handler.Calls.Load(); n != 0 {
				t.Errorf("handler ran %d times for rejected calls", n)
			}
			f.Sink.Wait(t, 3) // the log sees rejected calls
		})
	}
}

// checkHealth calls grpc.health.v1.Health/Check in-process.
func checkHealth(ctx context.Context, conn connect.Transport) (*healthv1.HealthCheckResponse, error) {
	res := new(healthv1.HealthCheckResponse)
	err := connect.NewClient(conn).CallUnary(ctx, connect.Spec{
		StreamType: connect.StreamTypeUnary, Procedure: "/" + health.ServiceName + "/Check",
	}, &healthv1.HealthCheckRequest{}, res)
	return res, err
}

func TestAuth_FailureLimitRefusesOnlyFurtherBadCredentials(t *testing.T) {
	f := chaintest.New(t, func(c *chaintest.Chain) {
		c.Auth.FailureLimit, c.Auth.FailureWindow = 3, time.Minute
		c.Register = func(s *connect.Server) {
			h := health.New()
			h.Set("", health.Serving)
			if err := h.Register(s); err != nil {
				t.Fatal(err)
			}
		}
	})
	hi := &switchboardtestv1.EchoRequest{Text: "x"}
	for i := range 3 {
		if _, err := f.Client.Echo(chaintest.WithToken(t.Context(), "forged"), hi); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("attempt %d: %v, want unauthenticated", i+1, err)
		}
	}
	// Over the limit: further bad credentials are refused with a hint to
	// back off…
	_, err := f.Client.Echo(chaintest.WithToken(t.Context(), "forged"), hi)
	var cerr *connect.Error
	if reason, _, _ := chaintest.Details(t, err); connect.CodeOf(err) != connect.CodeResourceExhausted ||
		reason != auth.ReasonTooManyFailures || !chaintest.ErrorsAs(err, &cerr) || !hasRetryInfo(cerr) {
		t.Errorf("4th bad credential: %v (%s), want resource_exhausted with RetryInfo", err, reason)
	}
	// …while everyone else from the same peer goes on as ever.
	if _, err := f.Client.Echo(chaintest.WithToken(t.Context(), "admin"), hi); err != nil {
		t.Errorf("valid credentials from the same peer: %v", err)
	}
	if _, err := f.Client.PublicEcho(t.Context(), hi); err != nil {
		t.Errorf("anonymous public call from the same peer: %v", err)
	}
	if res, err := checkHealth(t.Context(), f.Conn); err != nil || res.GetStatus() != health.Serving {
		t.Errorf("health check from the same peer: %v, %v", res, err)
	}
	// Health is never limited, even with bad credentials: it answers
	// UNAUTHENTICATED for them, never RESOURCE_EXHAUSTED.
	for range 5 {
		if _, err := checkHealth(chaintest.WithToken(t.Context(), "forged"), f.Conn); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("health with bad credentials: %v, want unauthenticated", err)
		}
	}
}

func hasRetryInfo(err *connect.Error) bool {
	for _, d := range err.Details() {
		if msg, e := connectproto.UnmarshalErrorDetail(d); e == nil {
			if _, ok := msg.(*errdetails.RetryInfo); ok {
				return true
			}
		}
	}
	return false
}
