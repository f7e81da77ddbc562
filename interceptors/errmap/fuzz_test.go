package errmap_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/internal/chaintest"
)

// Any message, valid or not, comes out of validation and error mapping as a
// clean status: no panic escapes, and no cause text reaches the client.
func FuzzValidationAndErrorMapping(f *testing.F) {
	for _, m := range []*switchboardtestv1.EchoRequest{
		{Text: "ok"},
		{},
		{Text: strings.Repeat("x", 101)},
		{Text: "x", Fail: "panic"},
		{Text: "x", Fail: "not_found"},
		{Text: "x", Fail: "validation"},
		{Text: "x", Fail: "whatever"},
		{Text: "x", Count: -1, Secret: "s"},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0xff})
	f.Add([]byte{0x0a, 0x02, 0xff, 0xfe}) // invalid UTF-8 in a string field
	f.Fuzz(func(t *testing.T, data []byte) {
		var req switchboardtestv1.EchoRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			return
		}
		if req.GetFail() == "unique" || req.GetFail() == "unavailable" {
			return // need a database; covered by kit's pipeline tests
		}
		fx := chaintest.New(t, nil)
		_, err := fx.Client.Echo(chaintest.WithToken(t.Context(), "admin"), &req)
		if err == nil {
			return
		}
		var cerr *connect.Error
		if !chaintest.ErrorsAs(err, &cerr) {
			t.Fatalf("not a connect error: %v", err)
		}
		if strings.Contains(cerr.Message(), "secret") || strings.Contains(cerr.Message(), "boom") {
			t.Errorf("cause leaked: %q", cerr.Message())
		}
		if cerr.Code() == connect.CodeUnknown {
			t.Errorf("unmapped error reached the client: %v", err)
		}
	})
}
