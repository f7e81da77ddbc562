package rest

import (
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Route is one REST route: an HTTP method and path template, and the
// Connect procedure it calls.
type Route struct {
	Method    string // GET, POST, PUT, PATCH, DELETE, or a custom method
	Path      string // the template, as declared: /v1/pets/{pet.id}
	Body      string // the request field the body fills: "*" (all), a field name, or "" (no body)
	Procedure string // /petstore.v1.PetStoreService/UpdatePet

	segments []string              // "*" one segment, "**" the rest, anything else a literal
	verb     string                // the custom verb after ':' in the last segment, if any
	masks    []string              // query parameters that name a FieldMask field of the request
	bodyType protoreflect.FullName // the message type of a body that fills one message field
}

// RoutesOf returns the routes a method declares with google.api.http: its
// rule and the rule's additional bindings. A rule whose template does not
// parse is an error: the transcoder would refuse it too.
func RoutesOf(method protoreflect.MethodDescriptor) ([]Route, error) {
	rule, ok := proto.GetExtension(method.Options(), annotations.E_Http).(*annotations.HttpRule)
	if !ok || rule == nil {
		return nil, nil
	}
	procedure := "/" + string(method.Parent().FullName()) + "/" + string(method.Name())
	var routes []Route
	for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		verb, path := ruleVerb(r)
		if path == "" {
			continue
		}
		route := Route{Method: verb, Path: path, Body: r.GetBody(), Procedure: procedure, masks: maskParams(method.Input())}
		if field := method.Input().Fields().ByName(protoreflect.Name(route.Body)); field != nil && field.Message() != nil && !field.IsList() && !field.IsMap() {
			route.bodyType = field.Message().FullName()
		}
		var err error
		if route.segments, route.verb, err = parseTemplate(path); err != nil {
			return nil, fmt.Errorf("rest: %s: %w", procedure, err)
		}
		routes = append(routes, route)
	}
	return routes, nil
}

func ruleVerb(r *annotations.HttpRule) (method, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "", ""
}

// parseTemplate reads a google.api.http path template into segments to
// match: a variable {field} is one segment, {field=a/*/b} its own
// segments. The grammar is http.proto's:
//
//	Template = "/" Segments [ ":" Verb ]
//	Segment  = "*" | "**" | LITERAL | "{" FieldPath [ "=" Segments ] "}"
func parseTemplate(t string) (segments []string, verb string, err error) {
	if !strings.HasPrefix(t, "/") {
		return nil, "", fmt.Errorf("path template %q does not start with /", t)
	}
	rest := t[1:]
	// A ':' outside braces starts the verb.
	depth := 0
	for i, c := range rest {
		switch c {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 {
				rest, verb = rest[:i], rest[i+1:]
			}
		}
		if verb != "" {
			break
		}
	}
	for len(rest) > 0 {
		var seg string
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, "", fmt.Errorf("path template %q: unclosed variable", t)
			}
			_, pattern, hasPattern := strings.Cut(rest[1:end], "=")
			if !hasPattern {
				pattern = "*"
			}
			segments = append(segments, strings.Split(pattern, "/")...)
			rest = strings.TrimPrefix(rest[end+1:], "/")
			continue
		}
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == "" {
			return nil, "", fmt.Errorf("path template %q: empty segment", t)
		}
		segments = append(segments, seg)
	}
	for i, s := range segments {
		if s == "**" && i != len(segments)-1 {
			return nil, "", fmt.Errorf("path template %q: ** must be last", t)
		}
	}
	return segments, verb, nil
}

// matches reports whether a request of method for path takes this route.
func (r *Route) matches(method, path string) bool {
	if method != r.Method || !strings.HasPrefix(path, "/") {
		return false
	}
	parts := strings.Split(path[1:], "/")
	if r.verb != "" {
		last := parts[len(parts)-1]
		base, found := strings.CutSuffix(last, ":"+r.verb)
		if !found {
			return false
		}
		parts[len(parts)-1] = base
	}
	for i, seg := range r.segments {
		switch {
		case seg == "**":
			return true
		case i >= len(parts) || parts[i] == "":
			return false
		case seg != "*" && seg != parts[i]:
			return false
		}
	}
	return len(parts) == len(r.segments)
}

// maskParams returns the query parameter names of the request's top-level
// FieldMask fields, by proto and by JSON name.
func maskParams(input protoreflect.MessageDescriptor) []string {
	var names []string
	fields := input.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() != nil && fd.Message().FullName() == "google.protobuf.FieldMask" && !fd.IsList() {
			names = append(names, string(fd.Name()), fd.JSONName())
		}
	}
	return names
}

// camelMasks rewrites the FieldMask query parameters of q whose paths are
// written as in the proto (update_mask=name,age_years) into the JSON
// mapping the transcoder reads (name,ageYears), so both spellings work.
// It reports whether it changed anything.
func (r *Route) camelMasks(q url.Values) bool {
	changed := false
	for _, name := range r.masks {
		values, ok := q[name]
		if !ok {
			continue
		}
		for i, v := range values {
			if strings.Contains(v, "_") {
				values[i] = snakeToCamelPaths(v)
				changed = true
			}
		}
	}
	return changed
}

func snakeToCamelPaths(paths string) string {
	var b strings.Builder
	upper := false
	for _, c := range paths {
		switch {
		case c == '_':
			upper = true
			continue
		case upper && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		upper = false
		b.WriteRune(c)
	}
	return b.String()
}
