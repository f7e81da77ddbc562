package kit_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/protobuf/proto"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

// Connections are read through a buffer (kit/conn.go): HTTP/1.1 requests
// pipelined in one write are all answered, in order, and a long client
// stream over h2c arrives whole and in order — with the buffer smaller
// than one message, and with the default.
func TestReadBuffer_NothingLostOrReordered(t *testing.T) {
	for _, size := range []int{0, 64, 32 << 10} {
		t.Run(fmt.Sprintf("read-buffer-bytes=%d", size), func(t *testing.T) {
			env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.ReadBufferBytes = size })

			conn, err := net.Dial("tcp", env.run.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			var pipelined strings.Builder
			paths := []string{"/healthz", "/no-such-page-1", "/healthz", "/no-such-page-2"}
			for _, p := range paths {
				fmt.Fprintf(&pipelined, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
			}
			if _, err := conn.Write([]byte(pipelined.String())); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(conn)
			for _, p := range paths {
				res, err := http.ReadResponse(r, nil)
				if err != nil {
					t.Fatalf("response to %s: %v", p, err)
				}
				_ = res.Body.Close()
				if want := map[bool]int{true: 200, false: 404}[p == "/healthz"]; res.StatusCode != want {
					t.Errorf("%s answered %d, want %d (out of order?)", p, res.StatusCode, want)
				}
			}

			client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connecthttp.NewTransport(
				kittest.WithBearer(kittest.H2CClient(), env.key), env.run.URL, connecthttp.WithGRPC())))
			stream, err := client.Collect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for i := range 300 {
				text := fmt.Sprintf("%03d%s", i, strings.Repeat("x", 90))
				texts = append(texts, text)
				if err := stream.Send(&switchboardtestv1.EchoRequest{Text: text}); err != nil {
					t.Fatal(err)
				}
			}
			res, err := stream.CloseAndReceive()
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(texts, " "); res.GetText() != want {
				t.Errorf("client stream arrived as %d bytes, want %d, in order", len(res.GetText()), len(want))
			}
		})
	}
}

// Coalesced writes (kit/conn.go) need no later write to go out: a bidi
// stream answered message by message, a reply at a time, completes, and a
// server stream arrives whole and in order — over h2c and over TLS (h2),
// with coalescing on and off.
func TestCoalescedWrites_EveryReplyGoesOutWithoutAnotherWrite(t *testing.T) {
	certFile, keyFile, pool := kittest.SelfSignedCert(t)
	for _, tc := range []struct {
		name     string
		tls      bool
		coalesce bool
	}{{"h2c", false, true}, {"tls", true, true}, {"h2c-off", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
				c.CoalesceWrites = tc.coalesce
				if tc.tls {
					c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
				}
			})
			hc, base := kittest.H2CClient(), env.run.URL
			if tc.tls {
				protocols := new(http.Protocols)
				protocols.SetHTTP2(true)
				hc = &http.Client{Transport: &http.Transport{Protocols: protocols, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
				base = "https://" + env.run.Addr
			}
			client := switchboardtestv1connect.NewEchoServiceClient(connect.NewClient(connecthttp.NewTransport(
				kittest.WithBearer(hc, env.key), base, connecthttp.WithGRPC())))
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang fails, it does not stall the suite
			defer cancel()

			chat, err := client.Chat(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				text := fmt.Sprint("ping ", i)
				if err := chat.Send(&switchboardtestv1.EchoRequest{Text: text}); err != nil {
					t.Fatal(err)
				}
				res, err := chat.Receive() // the server writes nothing more until we send again
				if err != nil {
					t.Fatalf("reply %d: %v", i, err)
				}
				if res.GetText() != text {
					t.Fatalf("reply %d = %q", i, res.GetText())
				}
			}
			if err := chat.CloseSend(); err != nil {
				t.Fatal(err)
			}

			expand, err := client.Expand(ctx, &switchboardtestv1.EchoRequest{Text: strings.Repeat("y", 100), Count: 5000})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for {
				res, err := expand.Receive()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after %d messages: %v", n, err)
				}
				if len(res.GetText()) != 100 {
					t.Fatalf("message %d: %d bytes", n, len(res.GetText()))
				}
				n++
			}
			if n != 5000 {
				t.Errorf("server stream: %d messages, want 5000", n)
			}
		})
	}
}

// A client that stops reading cannot hold the server: with the socket full
// and a coalesced write stuck in it, shutdown still ends the connection
// once its grace is over.
func TestCoalescedWrites_AClientThatReadsNothingCannotHoldShutdown(t *testing.T) {
	env := startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) { c.ShutdownGrace = 200 * time.Millisecond })
	conn, fr := h2Conn(t, env.run.Addr)
	// Open every flow-control window wide, then never read again.
	if err := fr.WriteWindowUpdate(0, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1<<31 - 1}); err != nil {
		t.Fatal(err)
	}
	req, _ := proto.Marshal(&switchboardtestv1.EchoRequest{Text: strings.Repeat("z", 100), Count: 1 << 30})
	body := append([]byte{0, 0, 0, 0, byte(len(req))}, req...)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", env.run.Addr},
		{":path", "/switchboardtest.v1.EchoService/Expand"}, {"content-type", "application/grpc"}, {"te", "trailers"},
		{"authorization", "Bearer " + env.key}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: block.Bytes()}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, true, body); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "the server to be writing the stream", func() bool { return env.handler.Calls.Load() == 1 })
	kittest.LetTimePass(t, 500*time.Millisecond, "the server to fill the socket its client does not read")
	if err := env.run.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	_ = conn.Close()
}
