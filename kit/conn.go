package kit

// The kit owns its listener, and so what each accepted connection costs in
// system calls: two measured changes over the standard library's HTTP/2
// server (docs/benchmarks.md has the numbers; docs/performance.md why).
//
// Reads go through a buffer. The standard HTTP/2 server reads every frame
// with two read(2) calls — its 9-byte header, then its payload — straight
// from the connection; a unary gRPC call is several frames. Reading through
// a buffer, as gRPC-Go does (32 KiB by default), takes whatever the client
// has sent in one system call and hands it out from memory. HTTP/1.1 and
// TLS read through it too (both already buffer above it: there it changes
// little).
//
// HTTP/2 writes are coalesced. The server writes a unary response as three
// frames — headers, data, trailers — each handed from the handler to the
// connection's loop and flushed on its own, so three write(2)s per call. A
// coalescing connection appends what it is given and writes it from a
// goroutine of its own, which Go's scheduler runs once the goroutines
// writing now have all parked: the frames of one response, and of every
// response finished meanwhile, go in one system call. Nothing waits on a
// timer: a lone response is written as soon as its writers park, a
// connection with more than maxPending bytes waiting writes them itself
// (backpressure), and Close, CloseWrite and a change of write deadline send
// what waits first (each bounded, so a client that reads nothing cannot
// hold them). An idle connection keeps at most keepBuffer of write buffer
// besides its read buffer. It applies to
// connections that speak HTTP/2: h2c (the client's first bytes are the
// preface) and TLS whose client offers h2 (set by the TLS handshake,
// see markH2). HTTP/1.1 writes one buffered response at a time already.
//
// Nothing is lost, reordered or read early: the buffer is the connection's
// only reader, bytes leave it in the order they came, and the server's own
// protocol detection reads through it like any other read. Deadlines still
// apply: a read that finds bytes in the buffer returns them at once, one
// that must wait waits on the socket with the deadline the server set.

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// listener wraps every accepted connection: with a read buffer of
// readBuffer bytes (0: none), and coalescing HTTP/2 writes when coalesce.
type listener struct {
	net.Listener
	readBuffer int
	coalesce   bool
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	kc := &conn{Conn: c, coalesce: l.coalesce}
	if l.readBuffer > 0 {
		kc.r = bufio.NewReaderSize(c, l.readBuffer)
	}
	return kc, nil
}

// conn is an accepted connection: reads through r when set, writes
// coalesced once h2 is known.
type conn struct {
	net.Conn
	r *bufio.Reader

	coalesce bool        // coalesce once the connection is known to speak HTTP/2
	head     []byte      // its first bytes, up to len(h2cPrefix)
	h2       atomic.Bool // it speaks HTTP/2: writes are coalesced

	wmu       sync.Mutex // guards wbuf, spare, flushing, werr and wdeadline
	wbuf      []byte     // written, not yet sent
	spare     []byte
	flushing  bool // a flush goroutine is on its way
	werr      error
	wdeadline time.Time  // the write deadline last set through this conn
	sendMu    sync.Mutex // one write to the socket at a time, in order
}

// h2cPrefix starts the HTTP/2 client preface ("PRI * HTTP/2.0…"); PRI is
// no HTTP/1 method.
const h2cPrefix = "PRI "

// maxPending is the most bytes a coalescing connection holds; a write
// past it sends them itself, so a writer faster than its client waits as it
// would on the socket.
const maxPending = 64 << 10

func (c *conn) Read(p []byte) (int, error) {
	var n int
	var err error
	if c.r != nil {
		n, err = c.r.Read(p)
	} else {
		n, err = c.Conn.Read(p)
	}
	if c.coalesce && len(c.head) < len(h2cPrefix) && n > 0 {
		c.head = append(c.head, p[:min(n, len(h2cPrefix)-len(c.head))]...)
		if string(c.head) == h2cPrefix {
			c.h2.Store(true)
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	if !c.h2.Load() {
		return c.Conn.Write(p)
	}
	c.wmu.Lock()
	if c.werr != nil {
		err := c.werr
		c.wmu.Unlock()
		return 0, err
	}
	c.wbuf = append(c.wbuf, p...)
	start, full := !c.flushing, len(c.wbuf) >= maxPending
	c.flushing = true
	c.wmu.Unlock()
	switch {
	case full:
		if err := c.flush(); err != nil {
			return 0, err
		}
	case start:
		go func() { _ = c.flush() }()
	}
	return len(p), nil
}

// flush sends what is waiting. A failed write closes the connection: the
// server learns of it on its next read or write.
func (c *conn) flush() error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.sendLocked()
}

func (c *conn) sendLocked() error {
	c.wmu.Lock()
	b := c.wbuf
	c.wbuf, c.spare = c.spare[:0], nil
	c.flushing = false
	err := c.werr
	c.wmu.Unlock()
	if len(b) == 0 || err != nil {
		return err
	}
	_, err = c.Conn.Write(b)
	c.wmu.Lock()
	if cap(b) <= keepBuffer {
		c.spare = b[:0] // a large burst's buffer goes back to the heap
	}
	if err != nil && c.werr == nil {
		c.werr = err
	}
	c.wmu.Unlock()
	if err != nil {
		_ = c.Conn.Close()
	}
	return err
}

// keepBuffer is the largest write buffer a connection keeps between
// flushes; an idle connection holds at most this and its read buffer.
const keepBuffer = 16 << 10

// closeFlushTimeout bounds sending what waits when the connection closes
// or its write deadline changes with nothing in force: a client that reads
// nothing holds it no longer than this.
const closeFlushTimeout = time.Second

// pending reports whether bytes wait to be sent.
func (c *conn) pending() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.wbuf) > 0
}

// Close sends what waits — bounded by closeFlushTimeout, which also ends a
// write in progress on a client that reads nothing — then closes.
func (c *conn) Close() error {
	if c.h2.Load() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		c.sendMu.Lock() // a write in progress ends by the deadline
		_ = c.sendLocked()
		c.sendMu.Unlock()
	}
	return c.Conn.Close()
}

// SetWriteDeadline and SetDeadline first send what was written before
// the call, under the deadline in force when it was written: the caller
// (crypto/tls's close_notify, for one) expects those bytes on their way
// before the new deadline applies. A flush in progress gets the new
// deadline, as a write in progress on a plain connection would.
func (c *conn) SetWriteDeadline(t time.Time) error {
	return c.newWriteDeadline(t, c.Conn.SetWriteDeadline)
}

func (c *conn) SetDeadline(t time.Time) error { return c.newWriteDeadline(t, c.Conn.SetDeadline) }

func (c *conn) newWriteDeadline(t time.Time, set func(time.Time) error) error {
	c.sendBefore()
	c.wmu.Lock()
	c.wdeadline = t
	c.wmu.Unlock()
	return set(t)
}

// sendBefore sends what waits now, unless a flush is already under way;
// with no write deadline in force, within closeFlushTimeout.
func (c *conn) sendBefore() {
	if !c.h2.Load() || !c.pending() || !c.sendMu.TryLock() {
		return
	}
	defer c.sendMu.Unlock()
	c.wmu.Lock()
	none := c.wdeadline.IsZero()
	c.wmu.Unlock()
	if none {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	}
	_ = c.sendLocked()
}

// CloseWrite half-closes a TCP connection, as the HTTP/1.1 server does
// before it hangs up on a client whose request it refused; what waits is
// sent first.
func (c *conn) CloseWrite() error {
	c.sendBefore()
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile and splice for HTTP/1.1 responses copied from
// files: the server looks for it on the connection. (Coalesced connections
// are HTTP/2 and never get here; flushing first keeps the order anyway.)
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return io.Copy(c.Conn, r)
}

// markH2 is a tls.Config.GetConfigForClient: a client that offers h2 gets
// it (the server prefers h2), so its connection's writes are coalesced.
func markH2(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if kc, ok := hello.Conn.(*conn); ok && kc.coalesce && slices.Contains(hello.SupportedProtos, "h2") {
		kc.h2.Store(true)
	}
	return nil, nil
}
