package switchboard_test

import (
	"context"
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
)

func TestScopeMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, scope string
		want           bool
	}{
		{"*", "/petstore.v1.PetStoreService/CreatePet", true},
		{"petstore.v1.PetStoreService/*", "/petstore.v1.PetStoreService/CreatePet", true},
		{"petstore.v1.PetStoreService/*", "petstore.v1.OtherService/CreatePet", false},
		{"*/ListPets", "/petstore.v1.PetStoreService/ListPets", true},
		{"*/ListPets", "/petstore.v1.PetStoreService/CreatePet", false},
		{"grpc.reflection.*/*", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true},
		{"admin", "admin", true},
		{"admin", "/admin/Thing", false},
		{"[", "[", true}, // a malformed pattern still matches itself, nothing else
		{"[", "x", false},
	} {
		if got := switchboard.ScopeMatches(tc.pattern, tc.scope); got != tc.want {
			t.Errorf("ScopeMatches(%q, %q) = %v, want %v", tc.pattern, tc.scope, got, tc.want)
		}
	}
}

func TestRequireScope(t *testing.T) {
	ctx := context.Background()
	if connect.CodeOf(switchboard.RequireScope(ctx, "admin")) != connect.CodePermissionDenied {
		t.Error("anonymous caller passed RequireScope")
	}
	ctx = switchboard.WithPrincipal(ctx, &switchboard.Principal{KeyID: "k", Scopes: []string{"admin"}})
	if err := switchboard.RequireScope(ctx, "admin"); err != nil {
		t.Errorf("admin: %v", err)
	}
	if connect.CodeOf(switchboard.RequireScope(ctx, "billing")) != connect.CodePermissionDenied {
		t.Error("missing scope passed")
	}
}

func TestTrackPrincipal_SeesWhatAnInnerLayerSets(t *testing.T) {
	ctx, principal := switchboard.TrackPrincipal(context.Background())
	if principal() != nil {
		t.Fatal("principal before auth")
	}
	inner := switchboard.WithPrincipal(ctx, &switchboard.Principal{KeyID: "k1"})
	if switchboard.PrincipalFromContext(inner).KeyID != "k1" || principal().KeyID != "k1" {
		t.Error("the outer layer did not learn the principal")
	}
}
