package requestlog_test

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/interceptors/requestlog"
	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestRequestLog_OneRecordPerCallInEveryShape(t *testing.T) {
	for _, sh := range chaintest.Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			f := chaintest.New(t, nil)
			n, err := sh.Call(chaintest.WithToken(t.Context(), "admin"), f.Client, chaintest.Msgs("a", "b"))
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if int64(n) != sh.WantSent {
				t.Errorf("client got %d responses, want %d", n, sh.WantSent)
			}
			r := f.Sink.Wait(t, 1)[0]
			if r.StreamType != sh.StreamType || r.Code != "ok" || r.MessagesReceived != sh.WantRecv ||
				r.MessagesSent != sh.WantSent || r.KeyID != "k-admin" || r.Service != "switchboardtest.v1.EchoService" ||
				len(r.RequestID) != 32 {
				t.Errorf("record = %+v", r)
			}
		})
	}
}

func TestRequestLog_PayloadCaptureRedactsSecrets(t *testing.T) {
	f := chaintest.New(t, func(c *chaintest.Chain) {
		c.RequestLog.PayloadBytes = 4096
		c.RequestLog.RedactFields = []string{"fail"}
	})
	ctx := chaintest.WithToken(t.Context(), "admin")
	_, _ = f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "visible", Secret: "hunter2", Fail: "connect"})
	if _, err := f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "visible", Secret: "hunter2"}); err != nil {
		t.Fatal(err)
	}
	got := f.Sink.Wait(t, 2)
	for _, r := range got {
		if strings.Contains(r.RequestPayload, "hunter2") || !strings.Contains(r.RequestPayload, `"secret":"[REDACTED]"`) ||
			!strings.Contains(r.RequestPayload, `"text":"visible"`) {
			t.Errorf("request payload %s", r.RequestPayload)
		}
	}
	if !strings.Contains(got[0].RequestPayload, `"fail":"[REDACTED]"`) {
		t.Errorf("configured path not redacted: %s", got[0].RequestPayload)
	}
	if !strings.Contains(got[1].ResponsePayload, `"text":"visible"`) {
		t.Errorf("response payload %s", got[1].ResponsePayload)
	}
}

func TestRequestLog_ErrorsOnly(t *testing.T) {
	f := chaintest.New(t, func(c *chaintest.Chain) { c.RequestLog.ErrorsOnly = true })
	ctx := chaintest.WithToken(t.Context(), "admin")
	_, _ = f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "ok"})
	_, _ = f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x", Fail: "not_found"})
	_, _ = f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "ok again"})
	if got := f.Sink.Wait(t, 1); got[0].Code != "not_found" {
		t.Errorf("record = %+v, want only the failed call", got[0])
	}
}

// A failed call past its peer's budget still reaches the sinks — marked to
// be counted without a row — while calls with credentials keep their rows.
func TestRequestLog_FailedRowsPerPeerBudget(t *testing.T) {
	f := chaintest.New(t, func(c *chaintest.Chain) { c.RequestLog.FailedRowsPerPeer = 2 })
	for range 4 {
		_, _ = f.Client.Echo(t.Context(), &switchboardtestv1.EchoRequest{Text: "x"}) // no credentials: refused
	}
	_, _ = f.Client.Echo(chaintest.WithToken(t.Context(), "admin"), &switchboardtestv1.EchoRequest{Text: "x", Fail: "not_found"})
	got := f.Sink.Wait(t, 5)
	var rows []bool
	for _, r := range got {
		rows = append(rows, f.Sink.Row(r))
	}
	if want := []bool{true, true, false, false, true}; !slices.Equal(rows, want) {
		t.Errorf("rows kept = %v, want %v (budget of 2 for anonymous failures; authenticated calls always)", rows, want)
	}
}

// Lines chooses which calls get a line in the server's log; every call
// still reaches the sinks (rows, statistics) whatever it says.
func TestRequestLog_Lines(t *testing.T) {
	for _, c := range []struct {
		lines        string
		okMin, okMax int // lines for the 200 successful calls
		failed       int // lines for the 2 failed ones
	}{
		{"all", 200, 200, 2},
		{"", 200, 200, 2},
		{"errors", 0, 0, 2},
		{"off", 0, 0, 0},
		{"0.25", 20, 90, 2}, // 50 expected; far outside this range is chance of ~1e-6
		{"0", 0, 0, 2},
	} {
		t.Run("lines="+c.lines, func(t *testing.T) {
			var out strings.Builder
			var mu sync.Mutex
			f := chaintest.New(t, func(ch *chaintest.Chain) {
				ch.RequestLog.Lines = c.lines
				ch.RequestLog.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &out}, nil))
			})
			ctx := chaintest.WithToken(t.Context(), "admin")
			for range 200 {
				if _, err := f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "ok"}); err != nil {
					t.Fatal(err)
				}
			}
			for range 2 {
				_, _ = f.Client.Echo(ctx, &switchboardtestv1.EchoRequest{Text: "x", Fail: "not_found"})
			}
			f.Sink.Wait(t, 202) // every call recorded, lines or not
			mu.Lock()
			text := out.String()
			mu.Unlock()
			ok, failed := strings.Count(text, "code=ok"), strings.Count(text, "code=not_found")
			if ok < c.okMin || ok > c.okMax || failed != c.failed {
				t.Errorf("lines: %d successful (want %d–%d), %d failed (want %d)", ok, c.okMin, c.okMax, failed, c.failed)
			}
		})
	}
	for _, bad := range []string{"some", "1.5", "-0.1", "NaN"} {
		if requestlog.CheckLines(bad) == nil {
			t.Errorf("Lines %q accepted", bad)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
