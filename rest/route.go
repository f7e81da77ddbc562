package rest

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Route is one REST route: an HTTP method and path template, and the
// Connect procedure it calls.
type Route struct {
	Method    string // GET, POST, PUT, PATCH, DELETE, a custom method, or "*" (any)
	Path      string // the template, as declared: /v1/pets/{pet.id}
	Body      string // the request field the body fills: "*" (all), a field name, or "" (no body)
	Procedure string // /petstore.v1.PetStoreService/UpdatePet

	input    protoreflect.MessageDescriptor
	segments []segment
	ranks    []int  // each segment's rank, for choosing among overlapping routes
	verb     string // the custom verb after ':' in the last segment, if any
	// fields are the request fields the path variables and the body fill,
	// by their names in the template and the rule ("pet.id", "pet"), and
	// sets the same by proto path: resolved once, when the route is read.
	fields map[string]protoreflect.FieldDescriptor
	sets   map[string]protoreflect.FieldDescriptor
}

// segment is one element of a template: a literal, "*" (one segment) or
// "**" (the rest); variable names the request field a variable segment
// fills ("pet.id"), "" for a segment outside any variable.
type segment struct {
	match    string
	variable string
}

// rank orders segments as the transcoder does when several routes match: a
// literal before "*", "*" before "**".
func (s segment) rank() int {
	switch s.match {
	case "*":
		return 1
	case "**":
		return 2
	}
	return 0
}

// RoutesOf returns the routes a method declares with google.api.http: its
// rule and the rule's additional bindings. A rule whose template does not
// parse, or whose variables or body name no field of the request, is an
// error: the transcoder would refuse it too.
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
		route := Route{Method: verb, Path: path, Body: r.GetBody(), Procedure: procedure, input: method.Input()}
		var err error
		if route.segments, route.verb, err = parseTemplate(path); err != nil {
			return nil, fmt.Errorf("rest: %s: %w", procedure, err)
		}
		if err := route.resolveFields(); err != nil {
			return nil, fmt.Errorf("rest: %s: %s: %w", procedure, path, err)
		}
		routes = append(routes, route)
	}
	return routes, nil
}

// resolveFields finds the fields the route's variables and body fill, and
// ranks its segments.
func (r *Route) resolveFields() error {
	r.fields = map[string]protoreflect.FieldDescriptor{}
	r.sets = map[string]protoreflect.FieldDescriptor{}
	names := []string{}
	for _, seg := range r.segments {
		r.ranks = append(r.ranks, seg.rank())
		if seg.variable != "" {
			names = append(names, seg.variable)
		}
	}
	if r.Body != "" && r.Body != "*" {
		names = append(names, r.Body)
	}
	for _, name := range names {
		fields, err := resolve(r.input, name)
		if err != nil {
			return err
		}
		r.fields[name] = fields[len(fields)-1]
		r.sets[protoPath(fields)] = fields[len(fields)-1]
	}
	return nil
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
func parseTemplate(t string) (segments []segment, verb string, err error) {
	if !strings.HasPrefix(t, "/") {
		return nil, "", fmt.Errorf("path template %q does not start with /", t)
	}
	rest := t[1:]
	// A ':' outside braces starts the verb.
	depth := 0
	for i, c := range rest {
		if c == '{' {
			depth++
		} else if c == '}' {
			depth--
		} else if c == ':' && depth == 0 {
			rest, verb = rest[:i], rest[i+1:]
			break
		}
	}
	for len(rest) > 0 {
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, "", fmt.Errorf("path template %q: unclosed variable", t)
			}
			name, pattern, hasPattern := strings.Cut(rest[1:end], "=")
			if !hasPattern {
				pattern = "*"
			}
			for _, m := range strings.Split(pattern, "/") {
				segments = append(segments, segment{match: m, variable: name})
			}
			rest = strings.TrimPrefix(rest[end+1:], "/")
			continue
		}
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == "" {
			return nil, "", fmt.Errorf("path template %q: empty segment", t)
		}
		segments = append(segments, segment{match: seg})
	}
	for i, s := range segments {
		if s.match == "" {
			return nil, "", fmt.Errorf("path template %q: empty segment", t)
		}
		if s.match == "**" && i != len(segments)-1 {
			return nil, "", fmt.Errorf("path template %q: ** must be last", t)
		}
	}
	return segments, verb, nil
}

// split cuts a request path as the transcoder does: its segments, and a
// custom verb after the first ':' of the last one.
func split(path string) (parts []string, verb string, ok bool) {
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, ":") {
		return nil, "", false
	}
	parts = strings.Split(path[1:], "/")
	last := parts[len(parts)-1]
	if i := strings.IndexByte(last, ':'); i >= 0 {
		parts[len(parts)-1], verb = last[:i], last[i+1:]
	}
	return parts, verb, true
}

// matchesPath reports whether parts and verb take this route's template,
// whatever the method.
func (r *Route) matchesPath(parts []string, verb string) bool {
	if verb != r.verb {
		return false
	}
	for i, seg := range r.segments {
		switch {
		case seg.match == "**":
			return true
		case i >= len(parts):
			return false
		case seg.match != "*" && seg.match != parts[i]:
			return false // a "*" takes any segment, an empty one too, as the transcoder's does; check refuses empty values
		}
	}
	return len(parts) == len(r.segments)
}

// variables returns the value of each path variable in parts (a
// multi-segment variable's segments joined by '/'), by field path.
func (r *Route) variables(parts []string) map[string]string {
	vars := map[string]string{}
	for i, seg := range r.segments {
		if seg.variable == "" {
			continue
		}
		value := parts[min(i, len(parts)):]
		if seg.match != "**" {
			value = value[:1]
		}
		if prev, ok := vars[seg.variable]; ok {
			vars[seg.variable] = prev + "/" + strings.Join(value, "/")
		} else {
			vars[seg.variable] = strings.Join(value, "/")
		}
	}
	return vars
}

// match returns the route a request of method for path takes, chosen as
// the transcoder chooses: of the templates that match the path, the one
// whose segments rank first (literal, then "*", then "**", from the left);
// then the route of that template for the method, or for "*". Nil when the
// transcoder would not call any method. parts is the path cut as split
// cuts it.
func match(routes []Route, method, path string) (route *Route, parts []string) {
	parts, verb, ok := split(path)
	if !ok {
		return nil, nil
	}
	var best []int
	for i := range routes {
		r := &routes[i]
		if !r.matchesPath(parts, verb) {
			continue
		}
		switch c := slices.Compare(r.ranks, best); {
		case best == nil || c < 0:
			best, route = r.ranks, nil
			fallthrough
		case c == 0:
			if r.Method == method || r.Method == "*" && route == nil {
				route = r
			}
		}
	}
	return route, parts
}
