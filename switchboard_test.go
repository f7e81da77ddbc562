package switchboard_test

import (
	"context"
	"testing"

	"connectrpc.com/connect/v2"

	"github.com/switchboardkit/switchboard"
	"github.com/switchboardkit/switchboard/internal/callctx"
)

func TestProcedureMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, procedure string
		want               bool
	}{
		{"*", "/petstore.v1.PetStoreService/CreatePet", true},
		{"petstore.v1.PetStoreService/*", "/petstore.v1.PetStoreService/CreatePet", true},
		{"petstore.v1.PetStoreService/*", "petstore.v1.OtherService/CreatePet", false},
		{"*/ListPets", "/petstore.v1.PetStoreService/ListPets", true},
		{"*/ListPets", "/petstore.v1.PetStoreService/CreatePet", false},
		{"grpc.reflection.*/*", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true},
		{"admin", "admin", false}, // a named scope is no pattern
		{"admin", "/admin/Thing", false},
		{"a/[", "a/[", true}, // a malformed pattern still matches itself, nothing else
		{"a/[", "a/x", false},
	} {
		if got := switchboard.ProcedureMatches(tc.pattern, tc.procedure); got != tc.want {
			t.Errorf("ProcedureMatches(%q, %q) = %v, want %v", tc.pattern, tc.procedure, got, tc.want)
		}
	}
}

func TestScopes_PatternsNeverGrantNamedScopes(t *testing.T) {
	p := &switchboard.Principal{Scopes: []string{"*", "*/*", "admin*", "/admin", "admin/*"}}
	for _, name := range []string{"admin", "admin.read", "billing"} {
		if p.HasScope(name) {
			t.Errorf("patterns %v grant the named scope %q", p.Scopes, name)
		}
	}
	admin := &switchboard.Principal{Scopes: []string{"admin"}}
	if !admin.HasScope("admin") || !admin.HasScope("admin.read") || admin.HasScope("administrator") {
		t.Error(`"admin" must hold itself and "admin.read", and nothing that merely starts with "admin"`)
	}
	if reader := (&switchboard.Principal{Scopes: []string{"admin.read"}}); reader.HasScope("admin") {
		t.Error(`"admin.read" holds "admin"`)
	}
	if admin.CanCall("/petstore.v1.PetStoreService/GetPet") {
		t.Error("a named scope granted a procedure")
	}
}

func TestScopes_CoversOnlyWhatIsHeld(t *testing.T) {
	for _, tc := range []struct {
		held  []string
		want  string
		cover bool
	}{
		{[]string{"*"}, "petstore.v1.PetStoreService/*", true},
		{[]string{"*"}, "*", true},
		{[]string{"*"}, "admin", false},
		{[]string{"*"}, "admin.read", false},
		{[]string{"admin"}, "admin.read", true},
		{[]string{"admin.read"}, "admin", false},
		{[]string{"admin"}, "*", false},
		{[]string{"petstore.v1.PetStoreService/*"}, "petstore.v1.PetStoreService/GetPet", true},
		{[]string{"petstore.v1.PetStoreService/*"}, "petstore.v1.PetStoreService/Get*", true},
		{[]string{"petstore.v1.PetStoreService/*"}, "*", false},
		{[]string{"petstore.v1.PetStoreService/*"}, "*/*", false},
		{[]string{"petstore.v1.PetStoreService/*"}, "petstore.*/*", false},
		{[]string{"petstore.*/*"}, "petstore.v1.PetStoreService/*", true},
		{[]string{"*/Get*"}, "*/Get?", false}, // ? is compared only for equality
		{[]string{"a.S/b?"}, "a.S/b*", false},
		{[]string{"*/List*"}, "*/List*", true},
		{nil, "*/GetPet", false},
	} {
		p := &switchboard.Principal{Scopes: tc.held}
		if got := p.Covers(tc.want); got != tc.cover {
			t.Errorf("%v covers %q = %v, want %v", tc.held, tc.want, got, tc.cover)
		}
	}
}

func TestValidateScope(t *testing.T) {
	for _, ok := range []string{"*", "*/*", "petstore.v1.PetStoreService/*", "/a.B/C", "admin", "admin.read", "billing_v2"} {
		if err := switchboard.ValidateScope(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/[", "a/b/c", "/", "Admin", "admin..read", "admin read", ".admin"} {
		if switchboard.ValidateScope(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRequireScope(t *testing.T) {
	ctx := context.Background()
	if connect.CodeOf(switchboard.RequireScope(ctx, "admin")) != connect.CodePermissionDenied {
		t.Error("anonymous caller passed RequireScope")
	}
	ctx = callctx.WithPrincipal(ctx, &switchboard.Principal{KeyID: "k", Scopes: []string{"admin"}})
	if err := switchboard.RequireScope(ctx, "admin"); err != nil {
		t.Errorf("admin: %v", err)
	}
	if connect.CodeOf(switchboard.RequireScope(ctx, "billing")) != connect.CodePermissionDenied {
		t.Error("missing scope passed")
	}
	ctx = callctx.WithPrincipal(ctx, &switchboard.Principal{KeyID: "k", Scopes: []string{"*"}})
	if connect.CodeOf(switchboard.RequireScope(ctx, "admin")) != connect.CodePermissionDenied {
		t.Error(`"*" passed RequireScope("admin")`)
	}
}
