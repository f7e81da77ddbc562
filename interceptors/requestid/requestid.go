// Package requestid is the first interceptor of the kit's chain. It gives
// every call a request id — the client's X-Request-Id when it is a sane
// token, else a new one — echoes it in the response header and puts
// it on the context (switchboard.RequestIDFromContext), so the request log,
// the errors' ErrorInfo and the server log all name the call the same way,
// for calls the request log skips too.
//
// It reads only the request header and must not fail a call.
package requestid

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"time"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/internal/callctx"
)

// Header carries the request id in both directions.
const Header = "X-Request-Id"

// New returns the request id interceptor.
func New() connect.ServerInterceptor {
	return func(next connect.ServerFunc) connect.ServerFunc {
		return func(ctx context.Context, spec connect.Spec, stream connect.ServerStream) error {
			info, _ := connect.CallInfoForServerContext(ctx)
			id := ""
			if info != nil {
				id = info.RequestHeader().Get(Header)
			}
			if !valid(id) {
				id = newID(time.Now())
			}
			if info != nil {
				info.ResponseHeader().Set(Header, id)
			}
			return next(callctx.WithRequestID(ctx, id), spec, stream)
		}
	}
}

// newID returns 32 hex digits: the time in milliseconds (12 digits), then
// 80 random bits — the layout of a UUIDv7, so ids made later sort later.
// Sorted ids are cheap to index: each row of the request log lands at the
// end of the request-id index instead of at a random page of it. Request
// ids are names, not secrets: the random part needs to be unique, not
// unpredictable.
func newID(now time.Time) string {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint64(b[:8], ms<<16|uint64(rand.Uint32()>>16))
	binary.BigEndian.PutUint64(b[8:], rand.Uint64())
	var h [32]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// valid accepts 1–128 of [A-Za-z0-9._:-]: enough for every tracing
// scheme's ids, nothing that could break a log line or a header.
func valid(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._:-", c)
		if !ok {
			return false
		}
	}
	return true
}
