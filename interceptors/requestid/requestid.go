// Package requestid is the first interceptor of the kit's chain. It gives
// every call a request id — the client's X-Request-Id when it is a sane
// token, else a new random one — echoes it in the response header and puts
// it on the context (switchboard.RequestIDFromContext), so the request log,
// the errors' ErrorInfo and the server log all name the call the same way,
// for calls the request log skips too.
//
// It reads only the request header and must not fail a call.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

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
				b := make([]byte, 16)
				_, _ = rand.Read(b)
				id = hex.EncodeToString(b)
			}
			if info != nil {
				info.ResponseHeader().Set(Header, id)
			}
			return next(callctx.WithRequestID(ctx, id), spec, stream)
		}
	}
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
