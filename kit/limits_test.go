package kit_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect/v2"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// A request within the receive limit is answered even when the answer is
// larger: the send limit is separate, and off by default.
func TestLimits_ReceiveAndSendAreSeparate(t *testing.T) {
	// The request is 103 bytes in protobuf, 111 in JSON; the response 117 and
	// 137: each over a 115-byte limit only on the way out.
	text := strings.Repeat("x", 100)
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.MaxReceiveBytes = 115 })
	for name, call := range env.callers(t) {
		if got, err := call(t, &switchboardtestv1.EchoRequest{Text: text}); err != nil {
			t.Errorf("%s: a response larger than the receive limit was refused: %v %q", name, got.code, got.message)
		}
	}
	if got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure,
		&switchboardtestv1.EchoRequest{Text: text, Secret: strings.Repeat("s", 64)}, env.key); got.code != connect.CodeResourceExhausted {
		t.Errorf("a request over the receive limit: %v", got.code)
	}

	capped := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.MaxSendBytes = 115 })
	for name, call := range capped.callers(t) {
		got, _ := call(t, &switchboardtestv1.EchoRequest{Text: text})
		// Connect sends an error body larger than the send limit without its
		// details; gRPC's trailers keep them.
		if got.code != connect.CodeResourceExhausted || strings.Contains(got.message, "MaxBytes") ||
			(name == "grpc-go" && got.reason != "RESPONSE_TOO_LARGE") {
			t.Errorf("%s: over the send limit: %v %q %q", name, got.code, got.reason, got.message)
		}
	}
}
