package kit_test

import (
	"log/slog"
	"strings"
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

// NewLogger's lines are buffered, never held: info lines go out on their
// own within the flush interval, warnings and errors at once, and what is
// left when the server stops before Run returns.
func TestNewLogger_BuffersLinesButNeverHoldsThem(t *testing.T) {
	var out kittest.SyncBuffer
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	log := cfg.NewLogger(&out)

	log.Info("first info")
	kittest.WaitFor(t, "the info line to be written without another line", func() bool {
		return strings.Contains(out.String(), "first info")
	})
	log.Info("second info")
	log.Warn("a warning")
	if text := out.String(); !strings.Contains(text, "second info") || !strings.Contains(text, "a warning") {
		t.Errorf("a warning did not write itself and what came before it at once:\n%s", text)
	}

	cfg.Logger = log
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	switchboardtestv1connect.RegisterEchoServiceHandler(srv.RPC(), &echo.Handler{})
	key := kittest.APIKey(t, srv, "tests", "*")
	run := kittest.Start(t, srv)
	client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(
		connecthttp.NewTransport(kittest.WithBearer(nil, key), run.URL, connecthttp.WithProtoJSON())))
	if _, err := client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := run.Stop(); err != nil { // Run has returned
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"msg=rpc", "EchoService/Echo", "msg=stopped"} {
		if !strings.Contains(text, want) {
			t.Errorf("after Run returned, the log lacks %q:\n%s", want, text)
		}
	}
}

// wrapping is a handler an application puts around the kit's (tracing,
// say); it cannot flush.
type wrapping struct{ slog.Handler }

// Run flushes NewLogger's lines even when the application wrapped its
// handler.
func TestNewLogger_FlushedByRunThroughAWrappingHandler(t *testing.T) {
	var out kittest.SyncBuffer
	cfg := kittest.Config(storetest.SQLiteDSN(t))
	cfg.Logger = slog.New(wrapping{cfg.NewLogger(&out).Handler()})
	srv, err := kit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	run := kittest.Start(t, srv)
	if err := run.Stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "msg=stopped") {
		t.Errorf("after Run returned, the log lacks its last line:\n%s", out.String())
	}
}
