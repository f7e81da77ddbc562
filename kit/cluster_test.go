package kit_test

import (
	"testing"
	"time"

	"connectrpc.com/connect/v2"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// Two replicas on one PostgreSQL: a key revoked through one is refused by
// the other within a second — not after its ten-second cache.
func TestCluster_ARevokedKeyIsRefusedOnEveryReplicaWithinASecond(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	long := func(c *kit.Config) { c.APIKeys.CacheTTL = time.Hour } // only the bus can make B forget
	a, b := startEcho(t, dsn, long), startEcho(t, dsn, long)
	secret, key, err := a.srv.APIKeys().Create(t.Context(), "shared", []string{"*"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	echo := switchboardtestv1connect.EchoServiceEchoProcedure
	hi := &switchboardtestv1.EchoRequest{Text: "x"}
	if got, err := b.postJSON(t, echo, hi, secret); err != nil {
		t.Fatalf("the key on B before the revocation: %v %q", got.code, got.reason)
	}
	if err := a.srv.APIKeys().Revoke(t.Context(), key.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	kittest.WaitWithin(t, time.Second, "B to refuse the revoked key", func() bool {
		got, _ := b.postJSON(t, echo, hi, secret)
		return got.code == connect.CodeUnauthenticated
	})
	t.Logf("refused on B %v after the revocation on A", time.Since(revoked).Round(time.Millisecond))
}
