package kit_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/events"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
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

// The live tail on one replica shows the calls of another: the viewer's
// lease reaches B on the bus, and B ships its calls while it is live.
func TestCluster_TheLiveTailShowsCallsOfEveryReplica(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a, b := startEcho(t, dsn), startEcho(t, dsn)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds every Receive
	defer cancel()
	tail, err := adminClient(a, kittest.APIKey(t, a.srv, "viewer", "admin.read")).WatchRequestLogs(ctx,
		&adminv1.WatchRequestLogsRequest{Method: "Echo"})
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()
	lines := make(chan *adminv1.RequestLog, 64)
	go func() {
		for {
			res, err := tail.Receive()
			if err != nil {
				close(lines)
				return
			}
			lines <- res.GetLog()
		}
	}()
	// B learns of the lease a moment after the tail opens: call B until
	// one of its calls shows on A's tail. Echo is called on B only, so an
	// Echo line on A's tail came from B.
	kittest.WaitFor(t, "a call on B in the tail on A", func() bool {
		if _, err := b.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "on b"}, b.key); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the tail ended")
			}
			return l.GetProcedure() == "switchboardtest.v1.EchoService/Echo"
		default:
			return false
		}
	})
}

// A replica that starts or shuts down is announced to the others at once,
// and the admin API shows one that shut down as down without waiting for
// its heartbeats to stop.
func TestCluster_InstancesUpAndDownReachEveryReplica(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	a := startEcho(t, dsn)
	news := make(chan events.Event, 16)
	sub := a.srv.Events().Subscribe(16, func(ev events.Event) {
		if ev.Kind == events.InstanceUp || ev.Kind == events.InstanceDown {
			news <- ev
		}
	})
	defer sub.Close()
	b := startEcho(t, dsn)
	bID := b.srv.Cluster().Origin()
	for ev := kittest.Receive(t, news, "an instance event"); ev.Instance != bID; ev = kittest.Receive(t, news, "B up") {
	}
	if err := b.run.Stop(); err != nil {
		t.Fatal(err)
	}
	if ev := kittest.Receive(t, news, "B down"); ev.Kind != events.InstanceDown || ev.Instance != bID {
		t.Errorf("after B stopped: %s %s, want instance.down %s", ev.Kind, ev.Instance, bID)
	}
	list, err := adminClient(a, kittest.APIKey(t, a.srv, "ops", "admin.read")).ListInstances(t.Context(), &adminv1.ListInstancesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range list.GetInstances() {
		if want := inst.GetId() != bID; inst.GetUp() != want {
			t.Errorf("instance %s up = %v, want %v", inst.GetId(), inst.GetUp(), want)
		}
	}
}
