package interceptors_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect/v2"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/interceptors"
)

func TestRequestLog_OneRecordPerCallInEveryShape(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			f := newFixture(t)
			n, err := sh.call(withToken(t.Context(), "admin"), f.client, msgs("a", "b"))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if int64(n) != sh.wantSent {
				t.Errorf("client got %d responses, want %d", n, sh.wantSent)
			}
			r := f.sink.wait(t, 1)[0]
			if r.StreamType != sh.streamType || r.Code != "ok" || r.MessagesReceived != sh.wantRecv ||
				r.MessagesSent != sh.wantSent || r.KeyID != "k-admin" || r.Service != "switchboardtest.v1.EchoService" ||
				len(r.RequestID) != 32 {
				t.Errorf("record = %+v", r)
			}
		})
	}
}

func TestAuth_RejectsEveryShapeBeforeTheHandler(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			f := newFixture(t)
			for token, want := range map[string]connect.Code{
				"":       connect.CodeUnauthenticated, // no credentials on a protected method
				"forged": connect.CodeUnauthenticated, // bad credentials
				"reader": connect.CodePermissionDenied,
			} {
				_, err := sh.call(withToken(t.Context(), token), f.client, msgs("a", "b"))
				if connect.CodeOf(err) != want {
					t.Errorf("token %q: %v, want %v", token, err, want)
				}
			}
			if n := f.handler.Calls.Load(); n != 0 {
				t.Errorf("handler ran %d times for rejected calls", n)
			}
			f.sink.wait(t, 3) // the log sees rejected calls
		})
	}
}

func TestErrors_MapsFailuresInEveryShape(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			f := newFixture(t)
			reqs := msgs("a", "b")
			reqs[0].Fail = "internal"
			_, err := sh.call(withToken(t.Context(), "admin"), f.client, reqs)
			var cerr *connect.Error
			if connect.CodeOf(err) != connect.CodeInternal || !errorsAs(err, &cerr) || cerr.Message() != "internal error" {
				t.Fatalf("error = %v, want internal: internal error", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("cause leaked to the client: %v", err)
			}
			reason, _, rid := details(t, err)
			if reason != interceptors.ReasonInternal || rid == "" || rid != f.sink.wait(t, 1)[0].RequestID {
				t.Errorf("ErrorInfo reason %q request_id %q; want INTERNAL and the logged request id", reason, rid)
			}
		})
	}
}

func TestValidate_ChecksEveryRequestMessageInEveryShape(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			f := newFixture(t)
			reqs := msgs("fine", strings.Repeat("x", 101))
			if sh.streamType == "unary" || sh.streamType == "server" {
				reqs = msgs("")
			}
			_, err := sh.call(withToken(t.Context(), "admin"), f.client, reqs)
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want invalid_argument", err)
			}
			reason, fields, _ := details(t, err)
			if reason != interceptors.ReasonValidationFailed || len(fields) != 1 || fields[0] != "text" {
				t.Errorf("reason %q fields %v, want VALIDATION_FAILED [text]", reason, fields)
			}
		})
	}
}

// The chain's order is part of the contract (docs/architecture.md); each
// assertion here fails if two interceptors swap.
func TestDefault_OrderIsRequestLogAuthErrorsValidate(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()

	// auth before validate: bad credentials and an invalid message →
	// UNAUTHENTICATED, not INVALID_ARGUMENT.
	_, err := f.client.Echo(withToken(ctx, "forged"), &switchboardtestv1.EchoRequest{})
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("bad key + invalid message: %v, want unauthenticated", err)
	}
	// errors outside validate: validation failures come out mapped, with
	// ErrorInfo and BadRequest.
	_, err = f.client.Echo(withToken(ctx, "admin"), &switchboardtestv1.EchoRequest{})
	if reason, fields, _ := details(t, err); reason != interceptors.ReasonValidationFailed || len(fields) != 1 {
		t.Errorf("validation failure: reason %q fields %v", reason, fields)
	}
	// requestlog outside errors: it records the mapped code and reason of a
	// panic; and outside auth: it recorded the rejected call above.
	_, err = f.client.Echo(withToken(ctx, "admin"), &switchboardtestv1.EchoRequest{Text: "x", Fail: "panic"})
	if connect.CodeOf(err) != connect.CodeInternal {
		t.Errorf("panic: %v, want internal", err)
	}
	recs := f.sink.wait(t, 3)
	if recs[0].Code != "unauthenticated" || recs[1].ErrorReason != interceptors.ReasonValidationFailed ||
		recs[2].Code != "internal" || recs[2].ErrorReason != interceptors.ReasonPanic {
		t.Errorf("records: [%s %s] [%s %s] [%s %s]", recs[0].Code, recs[0].ErrorReason,
			recs[1].Code, recs[1].ErrorReason, recs[2].Code, recs[2].ErrorReason)
	}
	if len(interceptors.Default(interceptors.Chain{})) != 4 {
		t.Error("Default should return exactly the four kit interceptors")
	}
}
