package kit_test

import (
	"strconv"
	"testing"

	"golang.org/x/net/http2"

	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// A handler whose client went away keeps running after its connection is
// gone (HTTP/2 forgets a connection the moment it closes); shutdown must
// wait for it, or its record is lost.
func TestShutdown_AHandlerThatOutlivesItsClientIsStillLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		env := startEcho(t, dsn, nil)
		conn, fr := h2Conn(t, env.run.Addr)
		body := []byte(`{"text":"x","fail":"linger"}`)
		block := headerBlock(env.run.Addr, switchboardtestv1connect.EchoServiceEchoProcedure,
			"authorization", "Bearer "+env.key, "content-length", strconv.Itoa(len(body)))
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(1, true, body); err != nil {
			t.Fatal(err)
		}
		kittest.WaitFor(t, "the call to reach the handler", func() bool { return env.handler.Calls.Load() >= 1 })
		_ = conn.Close() // the client is gone; the handler lingers
		if err := env.run.Stop(); err != nil {
			t.Fatal(err)
		}
		var echoes int
		for _, r := range rows(t, dsn) {
			if "/"+r.Procedure == switchboardtestv1connect.EchoServiceEchoProcedure {
				echoes++
			}
		}
		if echoes != 1 {
			t.Fatalf("%d request-log rows for the call that outlived its client, want 1", echoes)
		}
	})
}
