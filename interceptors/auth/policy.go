package auth

import (
	"strings"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard"
	switchboardv1 "github.com/switchboardkit/switchboard/gen/switchboard/v1"
	"github.com/switchboardkit/switchboard/internal/protoopt"
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

// scopeOf reads the (switchboard.v1.scope) option from a method's schema.
func scopeOf(spec connect.Spec) string {
	if method, ok := spec.Schema.(protoreflect.MethodDescriptor); ok {
		return protoopt.Scope(method)
	}
	return ""
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
	scoped := scopeOf(spec) != ""
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
	method, ok := spec.Schema.(protoreflect.MethodDescriptor)
	return ok && protoopt.Access(method) == switchboardv1.Access_ACCESS_PUBLIC
}
