package requestlog_test

import (
	"testing"

	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestRequestLog_OneRecordPerCallInEveryShape(t *testing.T) {
	for _, sh := range chaintest.Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			f := chaintest.New(t, nil)
			n, err := sh.Call(chaintest.WithToken(t.Context(), "admin"), f.Client, chaintest.Msgs("a", "b"))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if int64(n) != sh.WantSent {
				t.Errorf("client got %d responses, want %d", n, sh.WantSent)
			}
			r := f.Sink.Wait(t, 1)[0]
			if r.StreamType != sh.StreamType || r.Code != "ok" || r.MessagesReceived != sh.WantRecv ||
				r.MessagesSent != sh.WantSent || r.KeyID != "k-admin" || r.Service != "switchboardtest.v1.EchoService" ||
				len(r.RequestID) != 32 {
				t.Errorf("record = %+v", r)
			}
		})
	}
}
