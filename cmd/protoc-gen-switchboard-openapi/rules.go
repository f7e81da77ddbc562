package main

import (
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// formats are go-playground/validator tags that are OpenAPI formats, and
// patterns the tags that are simple character classes.
var (
	formats = map[string]string{
		"email": "email", "uuid": "uuid", "uuid4": "uuid", "url": "uri", "uri": "uri", "http_url": "uri",
		"hostname": "hostname", "ipv4": "ipv4", "ipv6": "ipv6", "datetime": "date-time",
	}
	patterns = map[string]string{
		"alpha": "^[a-zA-Z]*$", "alphanum": "^[a-zA-Z0-9]*$", "numeric": "^[-+]?[0-9]+(\\.[0-9]+)?$",
		"lowercase": "^[^A-Z]*$", "uppercase": "^[^a-z]*$",
	}
)

// constrain writes a field's (switchboard.v1.rules) — go-playground/validator
// tags — into its schema where OpenAPI can say the same thing, and the rules
// as written into x-switchboard-rules. It reports whether the field is
// required. What it cannot say is left to the extension: a bound on a
// 64-bit integer (a JSON string), a cross-field rule, a custom tag.
//
// The meanings follow the validator's on the Go field: min/max/len and
// gt/gte/lt/lte bound a string's length, a list's items and a number's
// value; required means non-empty (a string of at least one character, a
// list of one item, an enum other than its zero value); dive moves the rules
// after it onto the list's items; with omitempty only the upper bounds
// hold, since an empty value passes.
func constrain(s *openapi3.Schema, field protoreflect.FieldDescriptor, rules string) (required bool) {
	if s.Extensions == nil {
		s.Extensions = map[string]any{}
	}
	s.Extensions["x-switchboard-rules"] = rules
	target, list := s, field.IsList()
	omitempty := false
	for _, rule := range strings.Split(rules, ",") {
		name, arg, _ := strings.Cut(strings.TrimSpace(rule), "=")
		shape := shapeOf(target, field, list)
		switch name {
		case "dive":
			if list && target.Items != nil && target.Items.Value != nil {
				target, list = target.Items.Value, false
				omitempty = false
			}
		case "omitempty":
			omitempty = true
		case "required":
			if target != s {
				break // on items: each must be non-empty, said below by min
			}
			required = true
			switch shape {
			case "string":
				target.MinLength = max(target.MinLength, 1)
			case "list":
				target.MinItems = max(target.MinItems, 1)
			case "enum":
				target.Enum = dropZeroEnum(target.Enum, field)
			}
		case "min", "gte", "gt", "len":
			if n, ok := number(arg); ok && !omitempty {
				if name == "gt" && shape != "number" {
					n++ // a length or count above n is at least n+1
				}
				lowerBound(target, shape, n, name == "gt")
			}
			if name != "len" {
				break
			}
			fallthrough
		case "max", "lte", "lt":
			if n, ok := number(arg); ok {
				if name == "lt" && shape != "number" {
					n--
				}
				upperBound(target, shape, n, name == "lt")
			}
		case "oneof":
			if shape == "string" || shape == "number" {
				target.Enum = nil
				for _, v := range strings.Fields(arg) {
					if f, err := strconv.ParseFloat(v, 64); err == nil && shape == "number" {
						target.Enum = append(target.Enum, f)
					} else {
						target.Enum = append(target.Enum, v)
					}
				}
			}
		default:
			if f, ok := formats[name]; ok && shape == "string" && !omitempty {
				target.Format = f
			} else if p, ok := patterns[name]; ok && shape == "string" {
				target.Pattern = p
			}
		}
	}
	return required
}

// shapeOf is what bounds mean for a field's schema (or, past dive, its
// items' schema): "list", "string" (lengths), "number" (values), "enum", or
// "" (nothing: a 64-bit integer, which JSON carries as a string, or a
// message).
func shapeOf(s *openapi3.Schema, field protoreflect.FieldDescriptor, list bool) string {
	switch field.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind, protoreflect.MessageKind, protoreflect.GroupKind:
		if !list {
			return ""
		}
	}
	switch {
	case list && s.Type.Is("array"):
		return "list"
	case field.Kind() == protoreflect.EnumKind:
		return "enum"
	case s.Type.Is("string"):
		return "string"
	case s.Type.Is("integer"), s.Type.Is("number"):
		return "number"
	}
	return ""
}

func number(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func lowerBound(s *openapi3.Schema, shape string, n float64, exclusive bool) {
	switch shape {
	case "string":
		s.MinLength = max(s.MinLength, uint64(max(n, 0)))
	case "list":
		s.MinItems = max(s.MinItems, uint64(max(n, 0)))
	case "number":
		s.Min = &n
		if exclusive {
			s.ExclusiveMin = openapi3.ExclusiveBound{Bool: ptr(true)}
		}
	}
}

func upperBound(s *openapi3.Schema, shape string, n float64, exclusive bool) {
	switch shape {
	case "string":
		s.MaxLength = ptr(uint64(max(n, 0)))
	case "list":
		s.MaxItems = ptr(uint64(max(n, 0)))
	case "number":
		s.Max = &n
		if exclusive {
			s.ExclusiveMax = openapi3.ExclusiveBound{Bool: ptr(true)}
		}
	}
}

// dropZeroEnum removes the enum's zero value (…_UNSPECIFIED) from a
// required enum's names: the validator refuses it.
func dropZeroEnum(values []any, field protoreflect.FieldDescriptor) []any {
	if field.Enum() == nil {
		return values
	}
	zero := string(field.Enum().Values().ByNumber(0).Name())
	var out []any
	for _, v := range values {
		if v != zero {
			out = append(out, v)
		}
	}
	return out
}
