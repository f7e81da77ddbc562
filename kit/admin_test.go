package kit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/protobuf/types/known/durationpb"

	adminpkg "github.com/switchboardkit/switchboard/admin"
	"github.com/switchboardkit/switchboard/cluster"
	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	"github.com/switchboardkit/switchboard/gen/switchboard/admin/v1/adminv1connect"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

func adminClient(env *echoEnv, key string) adminv1connect.AdminServiceClient {
	return adminv1connect.NewAdminServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), key), env.run.URL)))
}

// waitLogged waits until the log writer has written n rows.
func waitLogged(t *testing.T, env *echoEnv, n int64) {
	t.Helper()
	kittest.WaitFor(t, fmt.Sprintf("%d rows written", n), func() bool { return env.srv.LogStats().Written >= n })
}

func TestAdmin_NeedsTheAdminScope(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	other := kittest.APIKey(t, env.srv, "other", "switchboardtest.v1.EchoService/*")
	admin := kittest.APIKey(t, env.srv, "admin", "admin")
	for key, want := range map[string]connect.Code{"": connect.CodeUnauthenticated, other: connect.CodePermissionDenied} {
		if _, err := adminClient(env, key).ListApiKeys(t.Context(), &adminv1.ListApiKeysRequest{}); connect.CodeOf(err) != want {
			t.Errorf("key %q: %v, want %v", key, err, want)
		}
	}
	if _, err := adminClient(env, admin).ListApiKeys(t.Context(), &adminv1.ListApiKeysRequest{}); err != nil {
		t.Errorf("admin key: %v", err)
	}
	// The admin scope grants the admin API only.
	if got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, admin); got.code != connect.CodePermissionDenied {
		t.Errorf("admin key on Echo: %v", got.code)
	}
}

func TestAdmin_StatsLogsKeysAndInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := startEcho(t, dsn, nil)
		admin := adminClient(env, kittest.APIKey(t, env.srv, "admin", "admin", "*"))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // bounds every Receive below
		defer cancel()

		// Live tail first, so it sees the calls below. Its lease on the
		// cluster bus says it is live.
		leases := make(chan struct{}, 1)
		defer env.srv.Cluster().Subscribe(adminpkg.LeaseTopic, cluster.Handler{Message: func(cluster.Message) {
			select {
			case leases <- struct{}{}:
			default:
			}
		}})()
		tail, err := admin.WatchRequestLogs(ctx, &adminv1.WatchRequestLogsRequest{ErrorsOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tail.Close()
		kittest.Receive(t, leases, "the live tail's lease")
		for range 3 {
			if _, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key); err != nil {
				t.Fatal(err)
			}
		}
		bad, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{}, env.key)
		live, err := tail.Receive()
		if err != nil || live.GetLog().GetCode() != "invalid_argument" || live.GetLog().GetRequestId() != bad.requestID {
			t.Fatalf("live tail: %v, %v (want the failed call %s)", live, err, bad.requestID)
		}
		waitLogged(t, env, 4)

		window := &adminv1.Window{Last: durationpb.New(time.Hour)}
		ov, err := admin.GetOverview(ctx, &adminv1.GetOverviewRequest{Window: window})
		if err != nil {
			t.Fatal(err)
		}
		// The admin calls themselves are logged too once they finish; count Echo alone.
		ms, err := admin.GetMethodStats(ctx, &adminv1.GetMethodStatsRequest{Procedure: switchboardtestv1connect.EchoServiceEchoProcedure, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		st := ms.GetMethod().GetStats()
		if st.GetCount() != 4 || st.GetByCode()["ok"] != 3 || st.GetByCode()["invalid_argument"] != 1 || st.GetErrorRate() != 0.25 ||
			ms.GetMethod().GetAccess() != "protected" || ov.GetStats().GetCount() < 4 {
			t.Errorf("Echo stats %v, overview count %d", st, ov.GetStats().GetCount())
		}
		svcs, err := admin.ListServices(ctx, &adminv1.ListServicesRequest{Window: window})
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]*adminv1.Method{}
		for _, m := range svcs.GetMethods() {
			found[m.GetProcedure()] = m
		}
		if c := found["switchboardtest.v1.EchoService/Chat"]; c == nil || c.GetStats().GetCount() != 0 || c.GetStreamType() != "bidi" {
			t.Errorf("never-called Chat: %v", c)
		}
		if p := found["switchboardtest.v1.EchoService/PublicEcho"]; p == nil || p.GetAccess() != "public" {
			t.Errorf("PublicEcho: %v", p)
		}
		for _, svc := range svcs.GetServices() {
			if svc.GetName() == "switchboardtest.v1.EchoService" && svc.GetStats().GetCount() != 4 {
				t.Errorf("EchoService stats %v, want its methods' 4 calls", svc.GetStats())
			}
		}
		if len(svcs.GetServices()) < 3 {
			t.Errorf("services = %v", svcs.GetServices())
		}
		byService, err := admin.GetTimeline(ctx, &adminv1.GetTimelineRequest{Service: "switchboardtest.v1.EchoService", Window: window})
		if err != nil {
			t.Fatal(err)
		}
		var svcSum int64
		for _, p := range byService.GetPoints() {
			svcSum += p.GetStats().GetCount()
		}
		if svcSum != 4 {
			t.Errorf("service timeline sums to %d, want 4", svcSum)
		}
		tl, err := admin.GetTimeline(ctx, &adminv1.GetTimelineRequest{Procedure: "switchboardtest.v1.EchoService/Echo", Window: window})
		if err != nil || tl.GetStep().AsDuration() != time.Minute || len(tl.GetPoints()) < 60 {
			t.Fatalf("timeline: step %v, %d points, %v", tl.GetStep().AsDuration(), len(tl.GetPoints()), err)
		}
		var sum int64
		for _, p := range tl.GetPoints() {
			sum += p.GetStats().GetCount()
		}
		if sum != 4 {
			t.Errorf("timeline sums to %d calls, want 4", sum)
		}

		logs, err := admin.ListRequestLogs(ctx, &adminv1.ListRequestLogsRequest{Method: "Echo", PageSize: 2})
		if err != nil || len(logs.GetLogs()) != 2 || logs.GetNextPageToken() == "" || logs.GetLogs()[0].GetCode() != "invalid_argument" {
			t.Fatalf("first page: %v, %v", logs, err)
		}
		more, err := admin.ListRequestLogs(ctx, &adminv1.ListRequestLogsRequest{Method: "Echo", PageSize: 2, PageToken: logs.GetNextPageToken()})
		if err != nil || len(more.GetLogs()) != 2 || more.GetNextPageToken() != "" || more.GetLogs()[0].GetId() >= logs.GetLogs()[1].GetId() {
			t.Errorf("second page: %v, %v", more, err)
		}
		failed, err := admin.ListRequestLogs(ctx, &adminv1.ListRequestLogsRequest{Code: "invalid_argument", ErrorContains: "must be"})
		if err != nil || len(failed.GetLogs()) != 1 {
			t.Errorf("filtered: %v, %v", failed, err)
		}
		one, err := admin.GetRequestLog(ctx, &adminv1.GetRequestLogRequest{RequestId: bad.requestID})
		if err != nil || one.GetLog().GetErrorReason() != "VALIDATION_FAILED" ||
			!strings.Contains(one.GetLog().GetErrorDetails(), `"fieldViolations":[{"field":"text"`) {
			t.Errorf("GetRequestLog: %v, %v", one, err)
		}
		if _, err := admin.GetRequestLog(ctx, &adminv1.GetRequestLogRequest{RequestId: "nope"}); connect.CodeOf(err) != connect.CodeNotFound {
			t.Errorf("GetRequestLog of an unknown id: %v", err)
		}

		created, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{Name: "ci", Scopes: []string{"*/Echo"}, Ttl: durationpb.New(time.Hour)})
		if err != nil || created.GetSecret() == "" || created.GetKey().GetStatus() != "active" || created.GetKey().GetExpireTime() == nil {
			t.Fatalf("CreateApiKey: %v, %v", created, err)
		}
		if got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, created.GetSecret()); got.code != 0 {
			t.Errorf("the new key does not work: %v", got.code)
		}
		revoked, err := admin.RevokeApiKey(ctx, &adminv1.RevokeApiKeyRequest{Id: created.GetKey().GetId()})
		if err != nil || revoked.GetKey().GetStatus() != "revoked" {
			t.Errorf("RevokeApiKey: %v, %v", revoked, err)
		}
		if got, _ := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, created.GetSecret()); got.code != connect.CodeUnauthenticated {
			t.Errorf("the revoked key still works: %v", got.code)
		}
		keys, err := admin.ListApiKeys(ctx, &adminv1.ListApiKeysRequest{})
		if err != nil || len(keys.GetKeys()) != 3 {
			t.Errorf("ListApiKeys: %d keys, %v", len(keys.GetKeys()), err)
		}
		if _, err := admin.CreateApiKey(ctx, &adminv1.CreateApiKeyRequest{}); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("CreateApiKey without name and scopes: %v", err)
		}

		// A replica that stopped beating a few minutes ago is listed as down.
		stale := &store.Instance{ID: "stale", Host: "old", Address: "10.0.0.9:8080", Version: "v0",
			StartedAt: time.Now().Add(-time.Hour).UTC(), LastSeenAt: time.Now().Add(-5 * time.Minute).UTC()}
		if _, err := env.srv.DB().NewInsert().Model(stale).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		inst, err := admin.ListInstances(ctx, &adminv1.ListInstancesRequest{})
		if err != nil || len(inst.GetInstances()) != 2 {
			t.Fatalf("ListInstances: %v, %v", inst, err)
		}
		for _, i := range inst.GetInstances() {
			if want := i.GetId() != "stale"; i.GetUp() != want || (want && i.GetAddress() != env.run.Addr) {
				t.Errorf("instance %s: up=%v address %s", i.GetId(), i.GetUp(), i.GetAddress())
			}
		}
	})
}

func TestAdmin_OverviewLatencyIsUnaryCallsOnly(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), nil)
	for range 5 {
		if _, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key); err != nil {
			t.Fatal(err)
		}
	}
	// A stream its client holds open for a second: a session, not a latency.
	closeChat, code, _, _ := openStream(t, grpcConn(t, env), switchboardtestv1connect.EchoServiceChatProcedure, env.key)
	if code != 0 {
		t.Fatal(code)
	}
	kittest.LetTimePass(t, time.Second, "the stream's lifetime is what is measured")
	closeChat()
	waitLogged(t, env, 6)
	ov, err := adminClient(env, kittest.APIKey(t, env.srv, "admin", "admin.read")).GetOverview(t.Context(), &adminv1.GetOverviewRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ov.GetStats().GetCount() != 6 || ov.GetStats().GetErrorRate() != 0 {
		t.Errorf("overview counts %d calls, error rate %v; want 6 and 0 (a cancelled stream is no error)",
			ov.GetStats().GetCount(), ov.GetStats().GetErrorRate())
	}
	if p99 := ov.GetStats().GetP99Latency().AsDuration(); p99 >= 500*time.Millisecond {
		t.Errorf("p99 latency %v counts the one-second stream", p99)
	}
}
