package kit_test

import (
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// PostgreSQL stopped under load, for real: every call's record survives the
// outage (spilled to disk, replayed when the server is back), health says
// the database cannot write meanwhile, and calls never fail for it.
// SWITCHBOARD_TEST_OUTAGE sets the outage (default 15s; the docs' figures
// come from 70s).
func TestRequestLog_APostgresOutageUnderLoadLosesNoRecord(t *testing.T) {
	outage := 15 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SWITCHBOARD_TEST_OUTAGE")); err == nil {
		outage = d
	}
	pg := storetest.StartServer(t)
	var observed atomic.Int64
	public := switchboardtestv1connect.EchoServicePublicEchoProcedure
	env := startEcho(t, pg.DSN, func(c *kit.Config) { c.LogSpillDir = t.TempDir() },
		observe(func(r *store.RequestLog) {
			if "/"+r.Procedure == public {
				observed.Add(1)
			}
		}))
	client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.H2CClient(), env.run.URL)))

	stop := make(chan struct{})
	var failures atomic.Int64
	var load sync.WaitGroup
	deadline := time.Now().Add(outage + 2*time.Minute) // a bound, whatever happens
	for range 4 {
		load.Go(func() {
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := client.PublicEcho(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
					failures.Add(1)
				}
			}
		})
	}
	kittest.LetTimePass(t, time.Second, "load before the outage")
	before := observed.Load()
	pg.Stop()
	healthz := func(want int) func() bool {
		return func() bool {
			res, err := (&http.Client{Timeout: 2 * time.Second}).Get(env.run.URL + "/healthz")
			if err != nil {
				return false
			}
			_ = res.Body.Close()
			return res.StatusCode == want
		}
	}
	kittest.WaitFor(t, "health to say the database cannot write", healthz(http.StatusServiceUnavailable))
	kittest.LetTimePass(t, outage, "the outage, under load")
	during := observed.Load() - before
	peak := env.srv.LogStats().Spill.PendingBytes
	pg.Start()
	kittest.WaitFor(t, "health to recover", healthz(http.StatusOK))
	kittest.LetTimePass(t, time.Second, "load after the outage")
	close(stop)
	load.Wait()

	if failures.Load() != 0 {
		t.Errorf("%d calls failed because the log database was down", failures.Load())
	}
	var rows int64
	var countErr error
	// Replay runs at about twice the load's rate: allow it the outage again.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%d rows for %d calls (%v); writer %+v", rows, observed.Load(), countErr, env.srv.LogStats())
		}
	})
	kittest.WaitWithin(t, 30*time.Second+outage, "a row for every call", func() bool {
		n, err := env.srv.DB().NewSelect().Model((*store.RequestLog)(nil)).Where("procedure = ?", public[1:]).Count(t.Context())
		rows, countErr = int64(n), err
		return err == nil && rows == observed.Load()
	})
	st := env.srv.LogStats()
	if st.Dropped != 0 || st.Failed != 0 || st.Spill.Dropped != 0 {
		t.Errorf("dropped %d, failed %d, spill dropped %d; want none", st.Dropped, st.Failed, st.Spill.Dropped)
	}
	t.Logf("outage %v: %d calls during it (%.0f/s), %d rows == %d calls; spill peaked at %d bytes, %d rows spilled and replayed",
		outage, during, float64(during)/outage.Seconds(), rows, observed.Load(), peak, st.Spill.Replayed)
}
