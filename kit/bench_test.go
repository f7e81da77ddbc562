package kit_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/internal/echo"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// BenchmarkUnaryOverH2C compares, in one run, a tiny unary call over h2c on
// loopback to a bare connect-go server and to a kit server with its whole
// pipeline (request log to SQLite, API-key auth, error mapping, validation,
// metrics, events). Read the two as a ratio:
//
//	go test -run XXX -bench UnaryOverH2C -benchmem ./kit/
func BenchmarkUnaryOverH2C(b *testing.B) {
	req := &switchboardtestv1.EchoRequest{Text: "hello"}
	run := func(b *testing.B, url string, hc *http.Client) {
		client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connecthttp.NewTransport(hc, url)))
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := client.Echo(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.Run("bare-connect", func(b *testing.B) {
		server := connect.NewServer()
		switchboardtestv1connect.RegisterEchoServiceHandler(server, &echo.Handler{})
		mux := http.NewServeMux()
		connecthttp.Mount(mux, server)
		protocols := new(http.Protocols)
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := &http.Server{Handler: mux, Protocols: protocols}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		run(b, "http://"+ln.Addr().String(), kittest.H2CClient())
	})

	b.Run("kit-pipeline", func(b *testing.B) {
		cfg := kittest.Config(storetest.SQLiteDSN(b))
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		srv, err := kit.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), &echo.Handler{})
		key := kittest.APIKey(b, srv, "bench", "*")
		running := kittest.Start(b, srv)
		run(b, running.URL, kittest.WithBearer(kittest.H2CClient(), key))
		b.StopTimer()
		_ = running.Stop()
		st := srv.LogStats()
		b.ReportMetric(float64(st.Dropped), "dropped")
		if st.Failed > 0 || st.Written == 0 {
			b.Errorf("log: %d written, %d failed", st.Written, st.Failed)
		}
	})
}
