package kit_test

// One connection's rapid-reset burst (HEADERS then RST_STREAM, thousands of
// times) must not flood the request log: every call stays countable, but the
// rows its failed calls take are bounded, and other callers' records are
// never pushed out.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// rapidReset opens n streams on one raw HTTP/2 connection, each a Connect
// POST to procedure whose body never comes, and resets each at once.
func rapidReset(t *testing.T, addr, procedure string, n int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	go func() { _, _ = io.Copy(io.Discard, conn) }() // the server's frames: settings, resets, goaway
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := range n {
		block.Reset()
		for _, f := range [][2]string{
			{":method", "POST"}, {":scheme", "http"}, {":authority", addr}, {":path", procedure},
			{"content-type", "application/json"}, {"content-length", "64"},
		} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		id := uint32(2*i + 1)
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
			return // the server may close a connection that abuses it: fine
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			return
		}
	}
}

func TestRequestLog_ARapidResetFloodNeitherFloodsTheLogNorPushesOthersOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		var observed atomic.Int64 // flood calls the server saw
		public := switchboardtestv1connect.EchoServicePublicEchoProcedure
		env := startEcho(t, dsn, func(c *kit.Config) {
			c.LogWriter.QueueSize = 300
			c.RequestLog.FailedRowsPerPeer = 50
		}, observe(func(r *store.RequestLog) {
			if "/"+r.Procedure == public {
				observed.Add(1)
			}
		}))
		const legit = 100
		began := time.Now()
		var wg sync.WaitGroup
		wg.Go(func() {
			// The server cuts off a connection that resets too much; the
			// burst goes on over new ones, as an attacker's would.
			for range 20 {
				if observed.Load() >= 1000 {
					return
				}
				rapidReset(t, env.run.Addr, public, 3000)
			}
		})
		wg.Go(func() {
			for i := range legit {
				if got, err := env.postJSON(t, switchboardtestv1connect.EchoServiceEchoProcedure,
					&switchboardtestv1.EchoRequest{Text: fmt.Sprint(i)}, env.key); err != nil {
					t.Errorf("legitimate call %d: %v %q", i, got.code, got.reason)
				}
			}
		})
		wg.Wait()
		if observed.Load() < 1000 {
			t.Fatalf("the burst reached the handler chain only %d times; the test needs a real flood", observed.Load())
		}
		t.Logf("the burst reached the handler chain %d times", observed.Load())
		db := env.srv.DB()
		count := func(procedure, code string) int64 {
			q := db.NewSelect().Model((*store.RequestLog)(nil)).Where("procedure = ?", procedure[1:])
			if code != "" {
				q = q.Where("code <> ?", code)
			}
			n, err := q.Count(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			return int64(n)
		}
		kittest.WaitFor(t, "every call in the statistics", func() bool {
			stats, err := store.StatsByProcedure(t.Context(), db, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
			return err == nil && stats[public[1:]] != nil && stats[public[1:]].Count == observed.Load() &&
				count(switchboardtestv1connect.EchoServiceEchoProcedure, "") == legit
		})
		// The bucket holds 50 and refills 50 a minute while the test runs.
		budget := 50 + int64(50*time.Since(began).Minutes()) + 1
		if n := count(public, "ok"); n > budget {
			t.Errorf("%d rows for the flood's failed calls, want at most the budget of %d", n, budget)
		}
		if dropped := env.srv.LogStats().Dropped; dropped != 0 {
			t.Errorf("%d records dropped", dropped)
		}
	})
}
