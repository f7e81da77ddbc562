package callctx_test

import (
	"context"
	"testing"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/internal/callctx"
)

func TestTrackPrincipal_SeesWhatAnInnerLayerSets(t *testing.T) {
	ctx, principal := callctx.TrackPrincipal(context.Background())
	if principal() != nil {
		t.Fatal("principal before auth")
	}
	inner := callctx.WithPrincipal(ctx, &switchboard.Principal{KeyID: "k1"})
	if switchboard.PrincipalFromContext(inner).KeyID != "k1" || principal().(*switchboard.Principal).KeyID != "k1" {
		t.Error("the outer layer did not learn the principal")
	}
	if switchboard.PrincipalFromContext(ctx) != nil {
		t.Error("the outer context has a principal")
	}
}
