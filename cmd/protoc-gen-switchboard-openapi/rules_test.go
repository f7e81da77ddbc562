package main

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
)

func petField(name string) protoreflect.FieldDescriptor {
	return (&petstorev1.Pet{}).ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
}

func TestConstrain_SaysWhatTheValidatorEnforces(t *testing.T) {
	str := func() *openapi3.Schema { return openapi3.NewStringSchema() }
	for _, tc := range []struct {
		name, field, rules string
		schema             *openapi3.Schema
		required           bool
		check              func(*openapi3.Schema) bool
	}{
		{"required string is non-empty", "name", "required,max=64", str(), true,
			func(s *openapi3.Schema) bool { return s.MinLength == 1 && *s.MaxLength == 64 }},
		{"len is both bounds", "name", "len=3", str(), false,
			func(s *openapi3.Schema) bool { return s.MinLength == 3 && *s.MaxLength == 3 }},
		{"gt and lt on a length are one past", "name", "gt=2,lt=9", str(), false,
			func(s *openapi3.Schema) bool { return s.MinLength == 3 && *s.MaxLength == 8 }},
		{"omitempty keeps only the upper bound", "name", "omitempty,min=3,max=9,email", str(), false,
			func(s *openapi3.Schema) bool { return s.MinLength == 0 && *s.MaxLength == 9 && s.Format == "" }},
		{"formats", "name", "email", str(), false,
			func(s *openapi3.Schema) bool { return s.Format == "email" }},
		{"oneof is an enum", "name", "oneof=red green", str(), false,
			func(s *openapi3.Schema) bool { return len(s.Enum) == 2 && s.Enum[1] == "green" }},
		{"numbers bound values", "age_years", "gt=0,lte=100", openapi3.NewInt32Schema(), false,
			func(s *openapi3.Schema) bool {
				return *s.Min == 0 && s.ExclusiveMin.IsTrue() && *s.Max == 100 && !s.ExclusiveMax.IsSet()
			}},
		{"a list's bounds count items; dive moves on to them", "tags", "required,max=10,dive,min=1,max=32",
			openapi3.NewArraySchema().WithItems(str()), true,
			func(s *openapi3.Schema) bool {
				return s.MinItems == 1 && *s.MaxItems == 10 && s.Items.Value.MinLength == 1 && *s.Items.Value.MaxLength == 32
			}},
		{"a required enum refuses its zero value", "species", "required,enum",
			str().WithEnum("SPECIES_UNSPECIFIED", "SPECIES_DOG"), true,
			func(s *openapi3.Schema) bool { return len(s.Enum) == 1 && s.Enum[0] == "SPECIES_DOG" }},
		{"a 64-bit integer is a JSON string: no bounds", "id", "gt=0", str(), false,
			func(s *openapi3.Schema) bool { return s.MinLength == 0 && s.Min == nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			required := constrain(tc.schema, petField(tc.field), tc.rules)
			if required != tc.required || !tc.check(tc.schema) || tc.schema.Extensions["x-switchboard-rules"] != tc.rules {
				t.Errorf("%s on %s: required %v, schema %+v", tc.rules, tc.field, required, tc.schema)
			}
		})
	}
}
