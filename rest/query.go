package rest

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkQuery checks a route's query string and returns it as the
// transcoder must see it. Each parameter names a field of the request
// (proto or JSON names, dotted through singular messages), one the path
// and the body leave alone, under one name only, and a single-valued
// field once — a FieldMask's values are joined, and its paths may use
// proto names; each value is one of its field's type; no two members of a
// oneof are set. A query the standard parser cannot read whole is refused
// rather than read in part.
func checkQuery(raw string, route *Route) (string, *refusedError) {
	if raw == "" {
		return raw, nil
	}
	query, err := url.ParseQuery(raw)
	if err != nil {
		return "", invalid("the query does not parse: %v", err)
	}
	if route.Body == "*" {
		return "", invalid("the body is the whole request on %s %s: no query parameters", route.Method, route.Path)
	}
	set := maps.Clone(route.sets)  // what the path and the body set, then the query too, by proto path
	byField := map[string]string{} // proto path → the parameter that named it
	changed := false
	names := make([]string, 0, len(query))
	for name := range query {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		values := query[name]
		bad := func(format string, args ...any) (string, *refusedError) {
			msg := fmt.Sprintf(format, args...)
			return "", invalid("query parameter %s: %s", name, msg).field(name, msg)
		}
		fields, err := resolve(route.input, name)
		if err != nil {
			return bad("%v", err)
		}
		for _, f := range fields[:len(fields)-1] {
			if f.IsList() || f.IsMap() {
				return bad("%s is a list or a map: its elements cannot be set one field at a time", f.Name())
			}
		}
		path, leaf := protoPath(fields), fields[len(fields)-1]
		if leaf.IsMap() {
			return bad("%s is a map: it cannot come from the query", leaf.Name())
		}
		if other, dup := byField[path]; dup {
			return bad("the same field as %s: give it once, under one name", other)
		}
		byField[path] = name
		for p := range set {
			if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(p, path+".") {
				where := "the path"
				if route.Body != "" && strings.HasPrefix(p, route.Body) {
					where = "the body"
				}
				return bad("%s is set by %s on %s %s", p, where, route.Method, route.Path)
			}
		}
		if oneof := leaf.ContainingOneof(); oneof != nil && !oneof.IsSynthetic() {
			for p, f := range set {
				if f.ContainingOneof() == oneof {
					return bad("%s and %s are members of one oneof (%s): set one", path, p, oneof.Name())
				}
			}
		}
		set[path] = leaf
		if leaf.Message() != nil && leaf.Message().FullName() == "google.protobuf.FieldMask" {
			joined, err := jsonMaskPaths(strings.Join(values, ","))
			if err != nil {
				return bad("%v", err)
			}
			if len(values) > 1 || joined != values[0] {
				query[name], changed = []string{joined}, true
			}
			values = query[name]
		} else if len(values) > 1 && !leaf.IsList() {
			return bad("given %d times; the field holds one value", len(values))
		}
		for _, v := range values {
			if err := checkValue(leaf, v); err != nil {
				return bad("%v", err)
			}
		}
	}
	if !changed {
		return raw, nil
	}
	return query.Encode(), nil
}

// FieldOf returns the request field a path variable or a query parameter
// names — a dotted path of proto or JSON names — as the REST layer reads
// it (the OpenAPI plugin describes parameters by it).
func FieldOf(input protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, error) {
	fields, err := resolve(input, name)
	if err != nil {
		return nil, err
	}
	return fields[len(fields)-1], nil
}

// resolve finds the fields of a dotted path of proto or JSON names.
func resolve(msg protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	var fields []protoreflect.FieldDescriptor
	for _, name := range strings.Split(path, ".") {
		if msg == nil {
			return nil, fmt.Errorf("%s is not a field of the request", path)
		}
		f := msg.Fields().ByJSONName(name)
		if f == nil {
			f = msg.Fields().ByName(protoreflect.Name(name))
		}
		if f == nil {
			return nil, fmt.Errorf("no field %q in %s", name, msg.FullName())
		}
		fields = append(fields, f)
		msg = f.Message()
		if f.IsMap() {
			msg = nil
		}
	}
	return fields, nil
}

func protoPath(fields []protoreflect.FieldDescriptor) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = string(f.Name())
	}
	return strings.Join(names, ".")
}

// jsonMaskPaths writes a FieldMask's comma-separated paths in the JSON
// names the transcoder reads: update_mask=name,age_years is name,ageYears.
// A path that is not snake_case or lowerCamelCase is refused rather than
// guessed at.
func jsonMaskPaths(paths string) (string, error) {
	out := strings.Split(paths, ",")
	for i, p := range out {
		for _, name := range strings.Split(p, ".") {
			if !maskName(name) {
				return "", fmt.Errorf("%q is not a field path (lowercase names, as in the proto or the JSON)", p)
			}
		}
		var b strings.Builder
		upper := false
		for _, c := range p {
			switch {
			case c == '_':
				upper = true
				continue
			case upper:
				c = []rune(strings.ToUpper(string(c)))[0]
			}
			upper = false
			b.WriteRune(c)
		}
		out[i] = b.String()
	}
	return strings.Join(out, ","), nil
}

// maskName is one element of a FieldMask path: a lowercase letter, then
// letters and digits, each underscore followed by a lowercase letter or a
// digit.
func maskName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' && i+1 < len(s) && (s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= '0' && s[i+1] <= '9'):
		default:
			return false
		}
	}
	return true
}
