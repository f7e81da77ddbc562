package kit_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// rows reads the request log after the server stopped (and flushed).
func rows(t *testing.T, dsn string) []*store.RequestLog {
	t.Helper()
	db, err := store.Open(t.Context(), dsn, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []*store.RequestLog
	if err := db.NewSelect().Model(&out).OrderExpr("id ASC").Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRequestLog_OneRowPerCallWithPrincipalCodeSizesAndCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := startEcho(t, dsn, nil)
		ctx := t.Context()
		keyID, _, _ := store.ParseAPIKey(env.key)

		// 1-2: Connect JSON over HTTP/1.1, one with the client's request id.
		connectJSON := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
			connecthttp.NewTransport(kittest.WithBearer(nil, env.key), env.run.URL, connecthttp.WithProtoJSON())))
		cctx, info := connect.NewClientContext(ctx)
		info.RequestHeader().Set("X-Request-Id", "client-id-123")
		if _, err := connectJSON.Echo(cctx, &switchboardtestv1.EchoRequest{Text: "one"}); err != nil {
			t.Fatal(err)
		}
		if got := info.ResponseHeader().Get("X-Request-Id"); got != "client-id-123" {
			t.Errorf("echoed X-Request-Id = %q", got)
		}
		if _, err := connectJSON.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "two"}); err != nil {
			t.Fatal(err)
		}
		// 3: rejected by auth. 4: rejected by validation.
		_, _ = env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, "")
		_, _ = env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{}, env.key)
		// 5-7: gRPC-Go streams in every shape.
		conn, err := grpc.NewClient(env.run.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(kittest.Bearer(env.key)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		grpcStream(t, conn, switchboardtestv1connect.EchoServiceExpandProcedure, false, true,
			[]*switchboardtestv1.EchoRequest{{Text: "e", Count: 3}}, 3)
		grpcStream(t, conn, switchboardtestv1connect.EchoServiceCollectProcedure, true, false,
			[]*switchboardtestv1.EchoRequest{{Text: "a"}, {Text: "b"}}, 1)
		grpcStream(t, conn, switchboardtestv1connect.EchoServiceChatProcedure, true, true,
			[]*switchboardtestv1.EchoRequest{{Text: "a"}, {Text: "b"}}, 2)

		if err := env.run.Stop(); err != nil {
			t.Fatal(err)
		}
		got := rows(t, dsn)
		type want struct {
			method, shape, protocol, code, keyID string
			recv, sent                           int64
		}
		wants := []want{
			{"Echo", "unary", "connect", "ok", keyID, 1, 1},
			{"Echo", "unary", "connect", "ok", keyID, 1, 1},
			{"Echo", "unary", "connect", "unauthenticated", "", 0, 0},
			{"Echo", "unary", "connect", "invalid_argument", keyID, 1, 0},
			{"Expand", "server", "grpc", "ok", keyID, 1, 3},
			{"Collect", "client", "grpc", "ok", keyID, 2, 1},
			{"Chat", "bidi", "grpc", "ok", keyID, 2, 2},
		}
		if len(got) != len(wants) {
			t.Fatalf("%d rows, want exactly %d (one per call)", len(got), len(wants))
		}
		for i, w := range wants {
			r := got[i]
			if r.Method != w.method || r.StreamType != w.shape || r.Protocol != w.protocol || r.Code != w.code ||
				r.KeyID != w.keyID || r.MessagesReceived != w.recv || r.MessagesSent != w.sent {
				t.Errorf("row %d = %s/%s %s %s key=%q recv=%d sent=%d; want %+v", i+1,
					r.Method, r.StreamType, r.Protocol, r.Code, r.KeyID, r.MessagesReceived, r.MessagesSent, w)
			}
			if (w.recv > 0) != (r.RequestBytes > 0) || (w.sent > 0) != (r.ResponseBytes > 0) {
				t.Errorf("row %d sizes: request %d response %d bytes", i+1, r.RequestBytes, r.ResponseBytes)
			}
			if r.PeerIP != "127.0.0.1" || r.HTTPVersion == "" || r.StartTime.IsZero() || r.DurationMicros < 0 {
				t.Errorf("row %d: peer %q http %q start %v", i+1, r.PeerIP, r.HTTPVersion, r.StartTime)
			}
			if strings.Contains(r.KeyName+r.ErrorMessage+r.RequestPayload, "sb_") {
				t.Errorf("row %d holds a secret", i+1)
			}
		}
		if got[0].RequestID != "client-id-123" || got[0].HTTPVersion != "HTTP/1.1" || got[4].HTTPVersion != "HTTP/2.0" {
			t.Errorf("row 1 request id %q, http %q; row 5 http %q", got[0].RequestID, got[0].HTTPVersion, got[4].HTTPVersion)
		}
		if got[2].ErrorReason != "MISSING_CREDENTIALS" || got[3].ErrorReason != "VALIDATION_FAILED" || got[3].ErrorMessage == "" {
			t.Errorf("error rows: %q %q %q", got[2].ErrorReason, got[3].ErrorReason, got[3].ErrorMessage)
		}
	})
}

// grpcStream runs one gRPC-Go stream and checks the number of responses.
func grpcStream(t *testing.T, conn *grpc.ClientConn, procedure string, clientStreams, serverStreams bool,
	reqs []*switchboardtestv1.EchoRequest, wantResponses int,
) {
	t.Helper()
	desc := &grpc.StreamDesc{ClientStreams: clientStreams, ServerStreams: serverStreams}
	s, err := conn.NewStream(t.Context(), desc, procedure)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if err := s.SendMsg(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		err := s.RecvMsg(new(switchboardtestv1.EchoResponse))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", procedure, err)
		}
		n++
		if !serverStreams {
			break
		}
	}
	if n != wantResponses {
		t.Errorf("%s: %d responses, want %d", procedure, n, wantResponses)
	}
}

func TestRequestLog_DatabaseDownWithoutSpillCallsSucceedAndDropsAreCounted(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.LogSpillDir = "off"
		c.LogWriter.QueueSize = 4
		c.LogWriter.BatchSize = 2
		c.LogWriter.FlushInterval = 20 * time.Millisecond
		c.ShutdownGrace = time.Second
	})
	// Authenticate once so the key is cached, then take the database away.
	call := func() error {
		_, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key)
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	if err := env.srv.DB().Close(); err != nil {
		t.Fatal(err)
	}
	const calls = 30
	for i := range calls {
		if err := call(); err != nil {
			t.Fatalf("call %d failed while the log database was down: %v", i, err)
		}
	}
	if dropped := env.srv.LogStats().Dropped; dropped == 0 {
		t.Errorf("no drops counted with a queue of 4 and %d calls against a dead database", calls)
	}
	start := time.Now()
	_ = env.run.Stop()
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("shutdown took %v with the database down; the flush must give up at the grace bound", waited)
	}
	st := env.srv.LogStats()
	if st.Written+st.Dropped+st.Failed+int64(st.Queued) != calls+1 {
		t.Errorf("written %d + dropped %d + failed %d + queued %d != %d calls: records unaccounted for",
			st.Written, st.Dropped, st.Failed, st.Queued, calls+1)
	}
}

func TestRequestLog_ShutdownUnderLoadLosesNoCompletedCall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		var observed atomic.Int64
		env := startEcho(t, dsn, func(c *kit.Config) { c.LogWriter.BatchSize = 7 },
			observe(func(*store.RequestLog) { observed.Add(1) }))
		client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
			connecthttp.NewTransport(kittest.WithBearer(kittest.H2CClient(), env.key), env.run.URL)))
		var ok atomic.Int64
		var wg sync.WaitGroup
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		for range 4 {
			wg.Go(func() {
				for range 150 { // bounded: at most 600 calls in all
					if _, err := client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "load"}); err != nil {
						return
					}
					ok.Add(1)
				}
			})
		}
		kittest.WaitFor(t, "50 calls under way", func() bool { return ok.Load() >= 50 })
		if err := env.run.Stop(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		n := int64(len(rows(t, dsn)))
		if n != observed.Load() || n < ok.Load() {
			t.Errorf("%d rows for %d finished calls (%d succeeded at the client): rows were lost", n, observed.Load(), ok.Load())
		}
	})
}

func TestRequestLog_ForwardedForOnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		xff     string
		want    string
	}{
		{"untrusted peer", nil, "203.0.113.9", "127.0.0.1"},
		{"trusted proxy", []string{"127.0.0.0/8"}, "203.0.113.9", "203.0.113.9"},
		{"chain through two proxies", []string{"127.0.0.0/8", "10.0.0.0/8"}, "198.51.100.7, 203.0.113.9, 10.1.2.3", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan string, 1)
			env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.TrustedProxies = prefixes(tc.trusted...) },
				observe(func(r *store.RequestLog) { got <- r.PeerIP }))
			client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
				connecthttp.NewTransport(kittest.WithBearer(nil, env.key), env.run.URL)))
			ctx, info := connect.NewClientContext(t.Context())
			info.RequestHeader().Set("X-Forwarded-For", tc.xff)
			if _, err := client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
				t.Fatal(err)
			}
			if ip := kittest.Receive(t, got, "the call's record"); ip != tc.want {
				t.Errorf("peer_ip = %q, want %q", ip, tc.want)
			}
		})
	}
}

// The kit's wiring of -log-skip-procedures (selector.Except around the
// request log) and -log-errors-only, down to the rows.
func TestRequestLog_SkipProceduresAndErrorsOnly(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	env := startEcho(t, dsn, func(c *kit.Config) {
		c.LogSkipProcedures = []string{"*/PublicEcho"}
		c.RequestLog.ErrorsOnly = true
	})
	call := func(proc string, req *switchboardtestv1.EchoRequest) {
		_, _ = env.postJSON(t, proc, req, env.key)
	}
	call(switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "ok"})
	call(switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x", Fail: "not_found"})
	call(switchboardtestv1connect.EchoServicePublicEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x", Fail: "not_found"})
	_ = env.run.Stop()
	got := rows(t, dsn)
	if len(got) != 1 || got[0].Code != "not_found" || got[0].Method != "Echo" {
		t.Errorf("rows = %d (%v), want only the failed Echo", len(got), got)
	}
}

// With the spill (the default), a database that is gone loses nothing: the
// batches wait on disk, and the next run on the same database and spill
// replays them.
func TestRequestLog_DatabaseDownRecordsWaitOnDiskAndTheNextRunReplaysThem(t *testing.T) {
	dsn := storetest.SQLiteDSN(t)
	spill := filepath.Join(t.TempDir(), "spill")
	mutate := func(c *kit.Config) {
		c.LogWriter.QueueSize = 100
		c.LogWriter.BatchSize = 2
		c.LogWriter.FlushInterval = 20 * time.Millisecond
		c.LogSpillDir = spill
	}
	env := startEcho(t, dsn, mutate)
	call := func(env *echoEnv) error {
		_, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure, &switchboardtestv1.EchoRequest{Text: "x"}, env.key)
		return err
	}
	if err := call(env); err != nil { // the key is cached from here on
		t.Fatal(err)
	}
	kittest.WaitFor(t, "the first row", func() bool { return env.srv.LogStats().Written == 1 })
	if err := env.srv.DB().Close(); err != nil {
		t.Fatal(err)
	}
	const calls = 30
	for i := range calls {
		if err := call(env); err != nil {
			t.Fatalf("call %d failed while the log database was down: %v", i, err)
		}
	}
	_ = env.run.Stop()
	st := env.srv.LogStats()
	if sp := st.Spill; st.Dropped != 0 || st.Failed != 0 || st.Queued != 0 || sp.Spilled != calls || sp.PendingFiles == 0 {
		t.Fatalf("writer %+v; want every record spilled", st)
	}

	// The next run replays them, in order, before anything else.
	next := startEcho(t, dsn, mutate)
	kittest.WaitFor(t, "the spill to be replayed", func() bool { return next.srv.LogStats().Spill.Replayed == calls })
	_ = next.run.Stop()
	var echoes int
	for _, r := range rows(t, dsn) {
		if "/"+r.Procedure == switchboardtestv1connect.EchoServiceEchoProcedure {
			echoes++
		}
	}
	if echoes != calls+1 {
		t.Errorf("%d rows, want %d (one before the outage, %d during it)", echoes, calls+1, calls)
	}
	if entries, _ := os.ReadDir(spill); len(entries) != 1 || entries[0].Name() != ".lock" {
		t.Errorf("spill directory holds %v after the replay, want only its lock file", entries)
	}
}

// -log-store chooses what reaches the database: rows and statistics,
// statistics only, or nothing; calls succeed alike.
func TestRequestLog_StoreChoosesRowsStatsOrNothing(t *testing.T) {
	for _, c := range []struct {
		store       string
		rows, stats int
	}{{"rows", 3, 3}, {"stats", 0, 3}, {"off", 0, 0}} {
		t.Run(c.store, func(t *testing.T) {
			dsn := storetest.SQLiteDSN(t)
			env := startEcho(t, dsn, func(cfg *kit.Config) { cfg.LogStore = c.store })
			client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
				connecthttp.NewTransport(kittest.WithBearer(nil, env.key), env.run.URL, connecthttp.WithProtoJSON())))
			from := time.Now().Add(-time.Minute)
			for range 3 {
				if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hi"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := env.run.Stop(); err != nil {
				t.Fatal(err)
			}
			if got := len(rows(t, dsn)); got != c.rows {
				t.Errorf("%d rows, want %d", got, c.rows)
			}
			db, err := store.Open(t.Context(), dsn, store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			stats, err := store.StatsByProcedure(t.Context(), db, from, time.Now().Add(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			counted := 0
			if s := stats["switchboardtest.v1.EchoService/Echo"]; s != nil {
				counted = int(s.Count)
			}
			if counted != c.stats {
				t.Errorf("statistics count %d calls, want %d", counted, c.stats)
			}
		})
	}
}
