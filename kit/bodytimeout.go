package kit

import (
	"io"
	"net/http"
	"time"

	"connectrpc.com/connect/v2"
)

// Slow clients. The standard library bounds request headers
// (ReadHeaderTimeout; on HTTP/2 a header block trickled in CONTINUATION
// frames on a connection with no open stream is bounded by IdleTimeout) but
// nothing bounds a request body that never finishes arriving: its
// ReadTimeout would also cut every long-lived stream. So the kit gives each
// request whose body is one message — unary and server-streaming calls, and
// plain HTTP — a read deadline of ReadBodyTimeout through
// http.ResponseController, lifted the moment the body has been read whole,
// so a stream that follows lives as long as it likes. Client and bidi
// streams send messages whenever they please and are exempt: the stream caps
// bound them.

// bodyTimeout wraps h with the per-request body deadline; streaming lists
// the paths of client and bidi streaming methods.
func bodyTimeout(h http.Handler, timeout time.Duration, streaming map[string]bool) http.Handler {
	if timeout <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody && !streaming[r.URL.Path] {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline once the body hit EOF: from then on
// only the response is in flight (on HTTP/1.1 the server's background read
// would otherwise hit the old deadline and cancel a long response stream).
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// clientStreamPaths lists the HTTP paths of client and bidi streaming
// methods.
func (s *Server) clientStreamPaths() map[string]bool {
	out := map[string]bool{}
	for spec := range s.rpc.Specs() {
		if spec.StreamType == connect.StreamTypeClient || spec.StreamType == connect.StreamTypeBidi {
			out[spec.Procedure] = true
		}
	}
	return out
}
