package validation_test

import (
	"strings"
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/internal/chaintest"
)

func TestValidate_ChecksEveryRequestMessageInEveryShape(t *testing.T) {
	for _, sh := range chaintest.Shapes {
		t.Run(sh.Name, func(t *testing.T) {
			f := chaintest.New(t, nil)
			reqs := chaintest.Msgs("fine", strings.Repeat("x", 101))
			if sh.StreamType == "unary" || sh.StreamType == "server" {
				reqs = chaintest.Msgs("")
			}
			_, err := sh.Call(chaintest.WithToken(t.Context(), "admin"), f.Client, reqs)
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("error = %v, want invalid_argument", err)
			}
			reason, fields, _ := chaintest.Details(t, err)
			if reason != errmap.ReasonValidationFailed || len(fields) != 1 || fields[0] != "text" {
				t.Errorf("reason %q fields %v, want VALIDATION_FAILED [text]", reason, fields)
			}
		})
	}
}
