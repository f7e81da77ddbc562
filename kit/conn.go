package kit

// Accepted connections are read through a buffer. The standard library's
// HTTP/2 server reads every frame with two read(2) calls — its 9-byte
// header, then its payload — straight from the connection; a unary gRPC
// call is several frames, so about four reads a call. Reading through a
// buffer, as gRPC-Go does (32 KiB by default), turns them into about one:
// whatever the client has sent is taken in one system call and handed out
// from memory. HTTP/1.1 and TLS read through it too (each already buffers
// above it, so there it changes little). Writes are not buffered here: they
// go to the socket when the server writes them.
//
// Nothing is lost, reordered or read early: the buffer is the connection's
// only reader, bytes leave it in the order they came, and the server's own
// protocol detection (the h2c preface) reads through it like any other
// read. Deadlines still apply: a Read that finds bytes in the buffer
// returns them at once, one that must wait waits on the socket with the
// deadline the server set.

import (
	"bufio"
	"io"
	"net"
)

// bufferedListener wraps every accepted connection in a read buffer of
// size bytes.
type bufferedListener struct {
	net.Listener
	size int
}

func (l bufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, l.size)}, nil
}

// bufferedConn is a net.Conn whose reads go through r; everything else is
// the connection's own.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes a TCP connection, as the HTTP/1.1 server does
// before it hangs up on a client whose request it refused.
func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile and splice for responses copied from files: the
// HTTP/1.1 server looks for it on the connection.
func (c *bufferedConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }
