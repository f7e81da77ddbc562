package switchboard

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// A scope is one of two kinds, told apart by its spelling:
//
//   - A procedure pattern — "*", or anything with a "/" such as
//     "petstore.v1.PetStoreService/*" or "*/ListPets" — grants the
//     procedures it matches (path.Match syntax over "package.Service/Method").
//     It never grants a method that names a scope of its own with the
//     (switchboard.v1.scope) option: "*" is every ordinary method, not the
//     admin API.
//   - A named scope — a dotted name such as "admin" or "admin.read" — grants
//     the methods that name it, and every name below it: "admin" grants
//     "admin.read", never the other way round. Patterns never match names.

// IsProcedurePattern reports whether scope is a procedure pattern rather than
// a named scope.
func IsProcedurePattern(scope string) bool {
	return scope == "*" || strings.Contains(scope, "/")
}

// ValidateScope reports why s cannot be a scope: a procedure pattern must be
// valid path.Match syntax over "package.Service/Method", a named scope
// dotted lowercase words ("admin", "admin.read", "billing_v2").
func ValidateScope(s string) error {
	if IsProcedurePattern(s) {
		p := trimSlash(s)
		if p == "*" {
			return nil
		}
		if _, err := path.Match(p, ""); err != nil || strings.Count(p, "/") != 1 || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
			return fmt.Errorf("scope %q is not a procedure pattern (package.Service/Method, path.Match syntax)", s)
		}
		return nil
	}
	for _, word := range strings.Split(s, ".") {
		if word == "" || strings.IndexFunc(word, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			return fmt.Errorf("scope %q is neither a procedure pattern nor a named scope (dotted lowercase words)", s)
		}
	}
	return nil
}

// ProcedureMatches reports whether the procedure pattern matches procedure.
// A leading slash on either side is ignored; a named scope matches nothing.
func ProcedureMatches(pattern, procedure string) bool {
	if !IsProcedurePattern(pattern) {
		return false
	}
	pattern, procedure = trimSlash(pattern), trimSlash(procedure)
	if pattern == "*" || pattern == procedure {
		return true
	}
	ok, err := path.Match(pattern, procedure)
	return err == nil && ok
}

// nameGrants reports whether the named scope held grants the named scope
// want: the same name, or a name below it.
func nameGrants(held, want string) bool {
	return !IsProcedurePattern(held) && (held == want || strings.HasPrefix(want, held+"."))
}

// CanCall reports whether p's procedure patterns grant procedure. It is the
// rule for methods that name no scope of their own; the auth interceptor
// never applies it to one that does.
func (p *Principal) CanCall(procedure string) bool {
	return p != nil && slices.ContainsFunc(p.Scopes, func(s string) bool { return ProcedureMatches(s, procedure) })
}

// HasScope reports whether p holds the named scope name, itself or through a
// name above it ("admin" holds "admin.read"). Procedure patterns, "*"
// included, never grant a named scope.
func (p *Principal) HasScope(name string) bool {
	return p != nil && slices.ContainsFunc(p.Scopes, func(s string) bool { return nameGrants(s, name) })
}

// Covers reports whether everything scope grants, p's scopes grant too: the
// rule for a key that creates another key. A named scope is covered by
// itself or a name above it; a procedure pattern by "*", by itself, or —
// when it uses no wildcard other than "*" — by a pattern of p's that
// matches it.
func (p *Principal) Covers(scope string) bool {
	if p == nil {
		return false
	}
	if !IsProcedurePattern(scope) {
		return p.HasScope(scope)
	}
	want := trimSlash(scope)
	return slices.ContainsFunc(p.Scopes, func(held string) bool {
		if !IsProcedurePattern(held) {
			return false
		}
		held = trimSlash(held)
		switch {
		case held == "*" || held == want:
			return true
		case strings.ContainsAny(want, `?[\`) || strings.ContainsAny(held, `?[\`):
			// Only star-only patterns are compared: with ? or [ a pattern
			// that matches the other's text can still grant less.
			return false
		}
		// Both use only "*": if held matches want's text, every procedure
		// want matches, held matches too (held's stars absorb want's).
		ok, err := path.Match(held, want)
		return err == nil && ok
	})
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}
