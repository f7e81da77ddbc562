package errmap_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestErrors_MapsFailuresInEveryShape(t *testing.T) {
	for _, sh := range chaintest.Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			f := chaintest.New(t, nil)
			reqs := chaintest.Msgs("a", "b")
			reqs[0].Fail = "internal"
			_, err := sh.Call(chaintest.WithToken(t.Context(), "admin"), f.Client, reqs)
			var cerr *connect.Error
			if connect.CodeOf(err) != connect.CodeInternal || !chaintest.ErrorsAs(err, &cerr) || cerr.Message() != "internal error" {
				t.Fatalf("error = %v, want internal: internal error", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("cause leaked to the client: %v", err)
			}
			reason, _, rid := chaintest.Details(t, err)
			if reason != errmap.ReasonInternal || rid == "" || rid != f.Sink.Wait(t, 1)[0].RequestID {
				t.Errorf("ErrorInfo reason %q request_id %q; want INTERNAL and the logged request id", reason, rid)
			}
		})
	}
}
