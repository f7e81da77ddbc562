package auth

import (
	"strings"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard"
	switchboardv1 "github.com/switchboardkit/switchboard/gen/switchboard/v1"
)

// healthProcedures are public unless configured otherwise: load balancers
// probe without credentials.
const healthProcedures = "grpc.health.v1.Health/*"

// methodRule is what auth needs to know about one method, read from its
// schema and the config once.
type methodRule struct {
	public bool
	scope  string // the granting scope named by (switchboard.v1.scope), if any
	health bool   // health checks are never limited
}

// allows reports whether p may call the protected method. A method that
// names a scope (the admin API: "admin") is granted by that named scope
// alone — no procedure pattern, "*" included, reaches it; any other method
// by a procedure pattern that matches it.
func (r methodRule) allows(p *switchboard.Principal, procedure string) bool {
	if r.scope != "" {
		return p.HasScope(r.scope)
	}
	return p.CanCall(procedure)
}

// ScopeOf reads the (switchboard.v1.scope) option from a method's schema.
func ScopeOf(spec connect.Spec) string {
	method, ok := spec.Schema.(protoreflect.MethodDescriptor)
	if !ok || method.Options() == nil {
		return ""
	}
	scope, _ := proto.GetExtension(method.Options(), switchboardv1.E_Scope).(string)
	return scope
}

// Policy decides which methods are public. Everything not public is
// protected: fail closed.
type Policy struct {
	Public    []string // procedure patterns made public by config
	Protected []string // procedure patterns always protected (they win)
}

// IsPublic resolves a method's access level: configured protected patterns,
// then configured public patterns, then health, then the proto option;
// anything else is protected. A method that names a scope of its own (the
// admin API) is made public only by its exact procedure name, never by a
// wildcard pattern.
func (p Policy) IsPublic(spec connect.Spec) bool {
	scoped := ScopeOf(spec) != ""
	match := func(patterns []string, exactOnly bool) bool {
		for _, pat := range patterns {
			if exactOnly && strings.ContainsAny(pat, `*?[\`) {
				continue
			}
			if switchboard.ProcedureMatches(pat, spec.Procedure) {
				return true
			}
		}
		return false
	}
	switch {
	case match(p.Protected, false):
		return false
	case match(p.Public, scoped), switchboard.ProcedureMatches(healthProcedures, spec.Procedure):
		return true
	}
	return AccessOf(spec) == switchboardv1.Access_ACCESS_PUBLIC
}

// AccessOf reads the (switchboard.v1.access) option from a method's schema;
// ACCESS_UNSPECIFIED when it has none.
func AccessOf(spec connect.Spec) switchboardv1.Access {
	method, ok := spec.Schema.(protoreflect.MethodDescriptor)
	if !ok || method.Options() == nil {
		return switchboardv1.Access_ACCESS_UNSPECIFIED
	}
	access, _ := proto.GetExtension(method.Options(), switchboardv1.E_Access).(switchboardv1.Access)
	return access
}
