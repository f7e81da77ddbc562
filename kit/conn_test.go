package kit_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connecthttp"

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
