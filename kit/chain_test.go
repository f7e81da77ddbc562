package kit_test

import (
	"sync"
	"testing"

	"connectrpc.com/connect/v2"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// The chain's order is part of the contract (docs/interceptors.md); each
// assertion here fails if two interceptors swap.
func TestChain_OrderIsRequestLogAuthLimitErrorsValidate(t *testing.T) {
	var mu sync.Mutex
	var recs []*store.RequestLog
	env := startEcho(t, storetest.SQLiteDSN(t), observe(func(r *store.RequestLog) {
		mu.Lock()
		recs = append(recs, r)
		mu.Unlock()
	}))
	echo := switchboardtestv1connect.EchoServiceEchoProcedure

	// auth before validation: bad credentials and an invalid message →
	// UNAUTHENTICATED, not INVALID_ARGUMENT.
	if got, _ := env.postJSON(t, echo, &switchboardtestv1.EchoRequest{}, "sb_forged_secret"); got.code != connect.CodeUnauthenticated {
		t.Errorf("bad key + invalid message: %+v, want unauthenticated", got)
	}
	// errmap outside validation: failures come out mapped, with ErrorInfo
	// and BadRequest.
	if got, _ := env.postJSON(t, echo, &switchboardtestv1.EchoRequest{}, env.key); got.reason != errmap.ReasonValidationFailed || len(got.fields) != 1 {
		t.Errorf("validation failure: %+v", got)
	}
	// requestlog outside errmap: it records the mapped code and reason of a
	// panic; and outside auth: it recorded the rejected call above.
	if got, _ := env.postJSON(t, echo, &switchboardtestv1.EchoRequest{Text: "x", Fail: "panic"}, env.key); got.code != connect.CodeInternal {
		t.Errorf("panic: %+v, want internal", got)
	}
	kittest.WaitFor(t, "three records", func() bool { mu.Lock(); defer mu.Unlock(); return len(recs) == 3 })
	mu.Lock()
	defer mu.Unlock()
	if recs[0].Code != "unauthenticated" || recs[1].ErrorReason != errmap.ReasonValidationFailed ||
		recs[2].Code != "internal" || recs[2].ErrorReason != errmap.ReasonPanic {
		t.Errorf("records: [%s %s] [%s %s] [%s %s]", recs[0].Code, recs[0].ErrorReason,
			recs[1].Code, recs[1].ErrorReason, recs[2].Code, recs[2].ErrorReason)
	}
	// requestid first: every record and every error names the call.
	for _, r := range recs {
		if len(r.RequestID) != 32 {
			t.Errorf("record without its request id: %+v", r)
		}
	}
}
