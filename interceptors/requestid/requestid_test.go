package requestid_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect/v2"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/interceptors/requestid"
	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestRequestID_KeepsASaneClientIDElseMakesOne(t *testing.T) {
	f := chaintest.New(t, nil)
	for sent, keep := range map[string]bool{
		"":                       false,
		"with space":             false,
		"trace-7.a:b-c":          true,
		strings.Repeat("x", 129): false,
		"bad\nline":              false,
	} {
		ctx, info := connect.NewClientContext(t.Context())
		info.RequestHeader().Set("Authorization", "Bearer admin")
		if sent != "" {
			info.RequestHeader().Set(requestid.Header, sent)
		}
		if _, err := f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
			t.Fatal(err)
		}
		got := info.ResponseHeader().Get(requestid.Header)
		if keep && got != sent || !keep && (got == sent || len(got) != 32) {
			t.Errorf("sent %q, answered %q", sent, got)
		}
	}
}
