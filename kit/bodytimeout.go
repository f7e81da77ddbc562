package kit

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/switchboardkit/switchboard/internal/callctx"
)

// Slow clients. The standard library bounds request headers
// (ReadHeaderTimeout; on HTTP/2 a header block trickled in CONTINUATION
// frames on a connection with no open stream is bounded by IdleTimeout) but
// nothing bounds a request body that never finishes arriving: its
// ReadTimeout would also cut every long-lived stream. So the kit gives every
// request body a read deadline of ReadBodyTimeout through
// http.ResponseController. It is lifted the moment the body has been read
// whole (unary and server-streaming calls, plain HTTP), so a response
// stream that follows lives as long as it likes; and for client and bidi
// streams, which send whenever they please, when the call is admitted —
// past auth and the stream caps (callctx.WithBodyDeadlineLift). A
// refused stream keeps its deadline, so the server's drain of its unread
// body is bounded too.

// bodyTimeout wraps h with the per-request body deadline.
func bodyTimeout(h http.Handler, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(timeout)) == nil {
				body := &deadlineBody{ReadCloser: r.Body, rc: rc}
				r.Body = body
				r = r.WithContext(callctx.WithBodyDeadlineLift(r.Context(), body.lift))
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
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.lift()
	}
	return n, err
}

// lift removes the deadline, once.
func (b *deadlineBody) lift() {
	b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
}
