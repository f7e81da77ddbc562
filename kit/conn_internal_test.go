package kit

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pair returns a coalescing conn (already known to speak HTTP/2) and the
// client end of its TCP connection on loopback.
func pair(t *testing.T) (*conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	accepted, err := listener{Listener: ln, readBuffer: 1024, coalesce: true}.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := accepted.(*conn)
	t.Cleanup(func() { _ = c.Close() })
	if _, err := io.WriteString(client, "PRI * HTTP/2.0\r\n"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if _, err := io.ReadFull(c, buf); err != nil || !c.h2.Load() {
		t.Fatalf("preface not recognised: %v", err)
	}
	return c, client
}

// readAll reads what the client gets until the server closes its side.
func readAll(t *testing.T, client net.Conn) string {
	t.Helper()
	_ = client.SetReadDeadline(time.Now().Add(30 * time.Second)) // a hang fails the test
	b, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("read: %v (after %q)", err, b)
	}
	return string(b)
}

// What a coalescing connection accepted reaches the client whatever comes
// next: Close right after a write (the HTTP/2 server's GOAWAY then close),
// a write deadline moved to now (crypto/tls's close_notify), a half-close.
func TestConn_WhatWasWrittenGoesOutFirst(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		c, client := pair(t)
		_, _ = c.Write([]byte("goaway"))
		_ = c.Close()
		if got := readAll(t, client); got != "goaway" {
			t.Errorf("client read %q", got)
		}
	})
	t.Run("deadline-now-then-close", func(t *testing.T) {
		c, client := pair(t)
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte("close_notify"))
		_ = c.SetWriteDeadline(time.Now())
		_ = c.Close()
		if got := readAll(t, client); got != "close_notify" {
			t.Errorf("client read %q", got)
		}
	})
	t.Run("close-write", func(t *testing.T) {
		c, client := pair(t)
		_, _ = c.Write([]byte("refused"))
		_ = c.CloseWrite()
		if got := readAll(t, client); got != "refused" {
			t.Errorf("client read %q", got)
		}
	})
	t.Run("many-writes-in-order", func(t *testing.T) {
		c, client := pair(t)
		var want strings.Builder
		for i := range 2000 {
			s := strings.Repeat(string(rune('a'+i%26)), 1+i%97)
			want.WriteString(s)
			if _, err := c.Write([]byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.Close()
		if got := readAll(t, client); got != want.String() {
			t.Errorf("client read %d bytes, want %d, in order", len(got), want.Len())
		}
	})
}

// A burst's large buffer is not kept: an idle connection holds at most
// keepBuffer for writing.
func TestConn_IdleConnectionKeepsNoLargeBuffer(t *testing.T) {
	c, client := pair(t)
	go func() { _, _ = io.Copy(io.Discard, client) }()
	big := make([]byte, maxPending-1)
	_, _ = c.Write(big)
	_, _ = c.Write(big) // past maxPending: sent by this call
	_ = c.flush()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if cap(c.wbuf) > keepBuffer || cap(c.spare) > keepBuffer {
		t.Errorf("idle connection keeps %d + %d bytes of write buffer", cap(c.wbuf), cap(c.spare))
	}
}
