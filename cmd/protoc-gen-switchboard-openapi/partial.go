package main

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/internal/protoopt"
	"github.com/switchboardkit/switchboard/rest"
)

// formatInt64 says what a 64-bit integer is: JSON carries it as a string
// (gnostic writes only "type: string"), of digits.
func formatInt64(s *openapi3.Schema, field protoreflect.FieldDescriptor) {
	target := s
	if field.IsList() && s.Items != nil && s.Items.Value != nil {
		target = s.Items.Value
	}
	switch field.Kind() {
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		target.Format, target.Pattern = "int64", `^-?[0-9]+$`
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		target.Format, target.Pattern = "uint64", `^[0-9]+$`
	}
}

// partialBodies describes, for every message field whose rules say
// structonly — the validator checks the message is there, not its fields
// (an update whose mask names the fields to change) — a partial form of the
// message: its schema without required fields, named Partial<Message>, and
// points the field, and a REST route whose body is that field, at it.
// Otherwise a client generated from the document would have to send every
// required field of the message to change one.
func (p *post) partialBodies(doc *openapi3.T) {
	partial := func(ref string) *openapi3.SchemaRef {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		whole := doc.Components.Schemas[name]
		if whole == nil || whole.Value == nil {
			return nil
		}
		partialName := "Partial" + name
		if existing := doc.Components.Schemas[partialName]; existing != nil {
			return openapi3.NewSchemaRef("#/components/schemas/"+partialName, existing.Value)
		}
		copied := *whole.Value
		copied.Required = nil
		copied.Description = strings.TrimSpace("Any of the fields of " + name + ": only those the update mask names are used (every mutable one when the mask is empty). " + whole.Value.Description)
		doc.Components.Schemas[partialName] = openapi3.NewSchemaRef("", &copied)
		return openapi3.NewSchemaRef("#/components/schemas/"+partialName, &copied)
	}
	refOf := func(s *openapi3.SchemaRef) string {
		switch {
		case s == nil:
			return ""
		case s.Ref != "":
			return s.Ref
		case s.Value != nil && len(s.Value.AllOf) == 1:
			return s.Value.AllOf[0].Ref
		}
		return ""
	}
	structOnly := map[protoreflect.FullName]bool{}
	for name, msg := range p.messages {
		schema := doc.Components.Schemas[name]
		if schema == nil || schema.Value == nil {
			continue
		}
		fields := msg.Fields()
		for i := range fields.Len() {
			f := fields.Get(i)
			prop := schema.Value.Properties[f.JSONName()]
			if !hasRule(protoopt.Rules(f), "structonly") || refOf(prop) == "" {
				continue
			}
			structOnly[f.FullName()] = true
			if pr := partial(refOf(prop)); pr != nil {
				if prop.Ref != "" {
					schema.Value.Properties[f.JSONName()] = pr
				} else {
					prop.Value.AllOf[0] = pr
				}
			}
		}
	}
	for path, item := range doc.Paths.Map() {
		for verb, op := range item.Operations() {
			o, ok := p.ops[verb+" "+path]
			if !ok || o.connect || op.RequestBody == nil || op.RequestBody.Value == nil {
				continue
			}
			routes, _ := rest.RoutesOf(o.method)
			for _, r := range routes {
				body := o.method.Input().Fields().ByName(protoreflect.Name(r.Body))
				if r.Method != verb || plainVariables(r.Path) != path || body == nil || !structOnly[body.FullName()] {
					continue
				}
				if media := op.RequestBody.Value.Content.Get("application/json"); media != nil && media.Schema != nil {
					if pr := partial(refOf(media.Schema)); pr != nil {
						media.Schema = pr
					}
				}
			}
		}
	}
}

func hasRule(rules, name string) bool {
	for _, r := range strings.Split(rules, ",") {
		if strings.TrimSpace(r) == name {
			return true
		}
	}
	return false
}
