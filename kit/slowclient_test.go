package kit_test

// Slow clients are bounded: a request body that never finishes, and an
// HTTP/2 header block trickled in 1-byte CONTINUATION frames, lose their
// connection — while long-lived response streams and slow client streams,
// which look alike on the wire, live on.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
	"github.com/switchboardkit/switchboard/gen/switchboardtest/v1/switchboardtestv1connect"
	"github.com/switchboardkit/switchboard/kit"
	"github.com/switchboardkit/switchboard/kit/kittest"
	"github.com/switchboardkit/switchboard/store/storetest"
)

const slowTimeout = time.Second

func startSlow(t *testing.T) *echoEnv {
	return startEcho(t, storetest.SQLiteDSN(t), func(c *kit.Config) {
		c.ReadBodyTimeout = slowTimeout
		c.IdleTimeout = 2 * slowTimeout
	})
}

// closedWithin reports whether the server closed conn within d (bounded by
// d; the test's point is that it closes at all).
func closedWithin(conn net.Conn, d time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// sendHTTP1 writes a raw HTTP/1.1 request (head and a partial body) and
// reports whether the server closed the connection within 10x the body
// timeout.
func sendHTTP1(t *testing.T, env *echoEnv, request string) bool {
	t.Helper()
	conn, err := net.Dial("tcp", env.run.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	return closedWithin(conn, 10*slowTimeout)
}

func TestSlowClients_AnHTTP1BodyThatNeverArrivesLosesItsConnection(t *testing.T) {
	if !sendHTTP1(t, startSlow(t), "POST "+switchboardtestv1connect.EchoServicePublicEchoProcedure+" HTTP/1.1\r\n"+
		"Host: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"te") {
		t.Fatal("the connection of a body that never arrives was still open after 10x -read-body-timeout")
	}
}

// h2Conn is a raw HTTP/2 client connection (prior knowledge, h2c).
func h2Conn(t *testing.T, addr string) (net.Conn, *http2.Framer) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return conn, fr
}

func headerBlock(addr, path string, extra ...string) []byte {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	fields := append([]string{":method", "POST", ":scheme", "http", ":authority", addr, ":path", path,
		"content-type", "application/json"}, extra...)
	for i := 0; i < len(fields); i += 2 {
		_ = enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return block.Bytes()
}

func TestSlowClients_AnHTTP2BodyThatNeverArrivesIsEnded(t *testing.T) {
	env := startSlow(t)
	conn, fr := h2Conn(t, env.run.Addr)
	block := headerBlock(env.run.Addr, switchboardtestv1connect.EchoServicePublicEchoProcedure, "content-length", "100")
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteData(1, false, []byte(`{"te`)); err != nil {
		t.Fatal(err)
	}
	// The stream must end — an answer with END_STREAM, or a reset — well
	// before we stop waiting.
	_ = conn.SetReadDeadline(time.Now().Add(10 * slowTimeout))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("stream 1 still open after 10x -read-body-timeout: %v", err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return
			}
		case *http2.DataFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				return
			}
		case *http2.GoAwayFrame:
			return
		}
	}
}

func TestSlowClients_AnHTTP2HeaderBlockTrickledInContinuationFramesLosesItsConnection(t *testing.T) {
	env := startSlow(t)
	conn, fr := h2Conn(t, env.run.Addr)
	closed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, conn); close(closed) }()
	block := headerBlock(env.run.Addr, switchboardtestv1connect.EchoServicePublicEchoProcedure,
		"x-padding", string(bytes.Repeat([]byte("a"), 200)))
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:1]}); err != nil {
		t.Fatal(err)
	}
	limit := time.After(10 * 2 * slowTimeout) // 10x -idle-timeout
	for i := 1; i < len(block)-1; i++ {
		select {
		case <-closed:
			return
		case <-limit:
			t.Fatal("a trickled header block kept its connection for 10x -idle-timeout")
		case <-time.After(100 * time.Millisecond):
		}
		if err := fr.WriteContinuation(1, false, block[i:i+1]); err != nil {
			return // closed under us
		}
	}
	t.Fatal("the whole header block was trickled in without the server closing the connection")
}

func TestSlowClients_LongResponseStreamsOutliveTheBodyTimeout(t *testing.T) {
	env := startSlow(t)
	hold := 3 * slowTimeout

	// Connect streaming over HTTP/1.1: health Watch, one enveloped request.
	conn, err := net.Dial("tcp", env.run.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	env1 := make([]byte, 5, 7)
	binary.BigEndian.PutUint32(env1[1:], 2)
	env1 = append(env1, "{}"...)
	if _, err := io.WriteString(conn, "POST /grpc.health.v1.Health/Watch HTTP/1.1\r\nHost: x\r\n"+
		"Content-Type: application/connect+json\r\nContent-Length: 7\r\n\r\n"+string(env1)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	_ = conn.SetReadDeadline(time.Now().Add(hold))
	data, err := io.ReadAll(r)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("the HTTP/1.1 stream ended within %v (%v): %q", hold, err, data)
	}
	if !bytes.Contains(data, []byte(`"SERVING"`)) {
		t.Errorf("no status on the stream: %q", data)
	}

	// gRPC over HTTP/2: health Watch.
	gconn := grpcConn(t, env)
	ctx, cancel := context.WithTimeout(t.Context(), hold)
	defer cancel()
	began := time.Now()
	watch, err := healthpb.NewHealthClient(gconn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := watch.Recv(); err != nil {
			// The end we set: our deadline, seen by either side first (the
			// server's copy of it can fire a moment before ours).
			ours := ctx.Err() != nil || (status.Code(err) == codes.DeadlineExceeded && time.Since(began) > hold-200*time.Millisecond)
			if !ours {
				t.Fatalf("the gRPC stream ended within %v: %v", hold, err)
			}
			break
		}
	}
}

func TestSlowClients_SlowClientStreamsAreNotCut(t *testing.T) {
	env := startSlow(t)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+env.key)
	s, err := grpcConn(t, env).NewStream(ctx, &grpc.StreamDesc{ClientStreams: true},
		switchboardtestv1connect.EchoServiceCollectProcedure)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.SendMsg(&switchboardtestv1.EchoRequest{Text: "x"}); err != nil {
			t.Fatal(err)
		}
		kittest.LetTimePass(t, slowTimeout, "a slow sender, on purpose: longer than -read-body-timeout in all")
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(switchboardtestv1.EchoResponse)); err != nil {
		t.Errorf("a slow client stream was cut: %v", err)
	}
}

// A client stream that auth or the caps refuse keeps the body deadline: the
// server's drain of its unread body cannot be held open by trickling it.
func TestSlowClients_ARefusedClientStreamCannotHoldItsConnection(t *testing.T) {
	if !sendHTTP1(t, startSlow(t), "POST "+switchboardtestv1connect.EchoServiceCollectProcedure+" HTTP/1.1\r\n"+
		"Host: x\r\nContent-Type: application/connect+json\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\x00\x00\x00\r\n") {
		t.Fatal("an unauthenticated client stream trickling its body kept its connection for 10x -read-body-timeout")
	}
}
