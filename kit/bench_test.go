package kit_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"connectrpc.com/connect/v2/connectinprocess"

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
		srv, running, key := benchKit(b, nil)
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

// BenchmarkChain is the pipeline's own cost per call, without HTTP: the
// same unary call through connectinprocess to a bare *connect.Server and to
// the kit's (request id, request log with its sinks, auth with a cached key,
// limits, error mapping, validation), with what the request log keeps in
// the database chosen by -log-store. Read allocs/op as differences:
//
//	go test -run XXX -bench Chain -benchmem ./kit/
func BenchmarkChain(b *testing.B) {
	req := &switchboardtestv1.EchoRequest{Text: "hello"}
	run := func(b *testing.B, server *connect.Server, key string) {
		client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connectinprocess.New(server)))
		ctx, info := connect.NewClientContext(b.Context())
		if key != "" {
			info.RequestHeader().Set("Authorization", "Bearer "+key)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := client.Echo(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) {
		server := connect.NewServer()
		switchboardtestv1connect.RegisterEchoServiceHandler(server, &echo.Handler{})
		run(b, server, "")
	})
	for _, store := range []string{"off", "stats", "rows"} {
		b.Run("kit/log-store="+store, func(b *testing.B) {
			srv, running, key := benchKit(b, func(cfg *kit.Config) {
				cfg.RequestLog.Lines = "off"
				cfg.LogStore = store
			})
			run(b, srv.RPC(), key)
			b.StopTimer()
			_ = running.Stop()
		})
	}
}

// benchKit starts a kit server on a fresh SQLite database with the echo
// service (its log discarded; change adjusts the config) and returns it
// with an API key allowed everything.
func benchKit(b *testing.B, change func(*kit.Config)) (*kit.Server, *kittest.Running, string) {
	cfg := kittest.Config(storetest.SQLiteDSN(b))
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if change != nil {
		change(&cfg)
	}
	srv, err := kit.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), &echo.Handler{})
	key := kittest.APIKey(b, srv, "bench", "*")
	return srv, kittest.Start(b, srv), key
}
