package auth_test

import (
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestAuth_RejectsEveryShapeBeforeTheHandler(t *testing.T) {
	for _, sh := range chaintest.Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			f := chaintest.New(t, nil)
			for token, want := range map[string]connect.Code{
				"":       connect.CodeUnauthenticated, // no credentials on a protected method
				"forged": connect.CodeUnauthenticated, // bad credentials
				"reader": connect.CodePermissionDenied,
			} {
				_, err := sh.Call(chaintest.WithToken(t.Context(), token), f.Client, chaintest.Msgs("a", "b"))
				if connect.CodeOf(err) != want {
					t.Errorf("token %q: %v, want %v", token, err, want)
				}
			}
			if n := f.Handler.Calls.Load(); n != 0 {
				t.Errorf("handler ran %d times for rejected calls", n)
			}
			f.Sink.Wait(t, 3) // the log sees rejected calls
		})
	}
}
