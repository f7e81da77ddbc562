package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/reflect/protoreflect"

	switchboardv1 "github.com/switchboardkit/switchboard/gen/switchboard/v1"
	"github.com/switchboardkit/switchboard/internal/protoopt"
	"github.com/switchboardkit/switchboard/rest"
)

// Security schemes: the kit takes an API key as a Bearer token or in the
// X-Api-Key header (docs/auth.md).
const (
	schemeBearer = "bearerAuth"
	schemeHeader = "apiKeyHeader"
)

// operation is what the post-processing knows of one operation of gnostic's
// document: the method it calls, and whether it is the Connect route.
type operation struct {
	method  protoreflect.MethodDescriptor
	connect bool
}

type post struct {
	ops      map[string]operation // "GET /v1/pets/{id}" → its method
	messages map[string]protoreflect.MessageDescriptor
	services []protoreflect.ServiceDescriptor
}

func newPost(plugin *protogen.Plugin) *post {
	p := &post{ops: map[string]operation{}, messages: map[string]protoreflect.MessageDescriptor{}}
	for _, file := range plugin.Files {
		for _, msg := range allMessages(file.Messages) {
			if _, dup := p.messages[string(msg.Desc.Name())]; !dup {
				p.messages[string(msg.Desc.Name())] = msg.Desc
			}
		}
		if !file.Generate {
			continue
		}
		for _, svc := range file.Services {
			p.services = append(p.services, svc.Desc)
			for _, m := range svc.Methods {
				routes, _ := rest.RoutesOf(m.Desc) // the Connect bindings added in main are among them
				for _, r := range routes {
					connect := r.Path == "/"+string(svc.Desc.FullName())+"/"+string(m.Desc.Name())
					p.ops[r.Method+" "+plainVariables(r.Path)] = operation{method: m.Desc, connect: connect}
				}
			}
		}
	}
	return p
}

func allMessages(msgs []*protogen.Message) []*protogen.Message {
	var out []*protogen.Message
	for _, m := range msgs {
		out = append(out, m)
		out = append(out, allMessages(m.Messages)...)
	}
	return out
}

var variable = regexp.MustCompile(`\{([^=}]+)(=[^}]*)?\}`)

// plainVariables writes a template's variables as OpenAPI does: {name}.
func plainVariables(path string) string { return variable.ReplaceAllString(path, "{$1}") }

func (p *post) apply(doc *openapi3.T) error {
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	doc.Components.SecuritySchemes = openapi3.SecuritySchemes{
		schemeBearer: &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().
			WithType("http").WithScheme("bearer").
			WithDescription("An API key as a Bearer token: `Authorization: Bearer sb_…`.")},
		schemeHeader: &openapi3.SecuritySchemeRef{Value: openapi3.NewSecurityScheme().
			WithType("apiKey").WithIn("header").WithName("X-Api-Key").
			WithDescription("An API key in the X-Api-Key header.")},
	}
	doc.Security = openapi3.SecurityRequirements{{schemeBearer: {}}, {schemeHeader: {}}}
	doc.Components.Schemas["ConnectError"] = connectErrorSchema()
	if doc.Info.Title == "" { // gnostic names a lone service's API only
		var names []string
		for _, svc := range p.services {
			names = append(names, string(svc.Name()))
		}
		doc.Info.Title = strings.Join(names, ", ") + " API"
	}
	if doc.Info.Description == "" {
		doc.Info.Description = "Served on one port as REST routes, as Connect (POST /package.Service/Method with a JSON body), gRPC and gRPC-Web."
	}

	tags := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for verb, op := range item.Operations() {
			o, ok := p.ops[verb+" "+path]
			if !ok {
				return fmt.Errorf("%s %s: no method declares this route", verb, path)
			}
			p.operation(doc, op, o)
			tags[op.Tags[0]] = true
		}
	}
	doc.Tags = nil
	for _, svc := range p.services {
		name := string(svc.Name())
		if tags[name] {
			doc.Tags = append(doc.Tags, &openapi3.Tag{Name: name, Description: "REST routes (google.api.http)."})
		}
		if tags[name+" (Connect)"] {
			doc.Tags = append(doc.Tags, &openapi3.Tag{Name: name + " (Connect)",
				Description: "The Connect protocol's unary calls: POST the request message as JSON to /" + string(svc.FullName()) + "/Method."})
		}
	}

	for name, ref := range doc.Components.Schemas {
		if msg, ok := p.messages[name]; ok && ref.Value != nil {
			constrainMessage(ref.Value, msg)
		}
	}
	p.partialBodies(doc)
	tidyDescriptions(doc)
	return mergeEquivalentPaths(doc)
}

// tidyDescriptions drops the space gnostic keeps at the start of each line
// of a proto comment ("// over gRPC" becomes "\n over gRPC").
func tidyDescriptions(doc *openapi3.T) {
	tidy := func(s *string) { *s = strings.ReplaceAll(*s, "\n ", "\n") }
	tidy(&doc.Info.Description)
	var schema func(*openapi3.Schema, map[*openapi3.Schema]bool)
	schema = func(s *openapi3.Schema, seen map[*openapi3.Schema]bool) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		tidy(&s.Description)
		for _, p := range s.Properties {
			schema(p.Value, seen)
		}
		for _, all := range s.AllOf {
			schema(all.Value, seen)
		}
		if s.Items != nil {
			schema(s.Items.Value, seen)
		}
	}
	seen := map[*openapi3.Schema]bool{}
	for _, ref := range doc.Components.Schemas {
		schema(ref.Value, seen)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			tidy(&op.Description)
			for _, p := range op.Parameters {
				if p.Value != nil {
					tidy(&p.Value.Description)
				}
			}
		}
	}
}

// mergeEquivalentPaths puts the operations of paths that differ only in
// their variables' names under one path: OpenAPI holds /v1/pets/{id} and
// /v1/pets/{pet.id} to be the same path and refuses both. The operations
// moved have their path parameters renamed by position; the server does
// not care what a client calls them, only where they are.
func mergeEquivalentPaths(doc *openapi3.T) error {
	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths) // deterministic: the shortest, then lowest, name wins
	first := map[string]string{}
	for _, path := range paths {
		shape := variable.ReplaceAllString(path, "{}")
		keep, seen := first[shape]
		if !seen {
			first[shape] = path
			continue
		}
		from, to := variable.FindAllStringSubmatch(path, -1), variable.FindAllStringSubmatch(keep, -1)
		rename := map[string]string{}
		for i := range from {
			rename[from[i][1]] = to[i][1]
		}
		target := doc.Paths.Value(keep)
		for verb, op := range doc.Paths.Value(path).Operations() {
			if target.GetOperation(verb) != nil {
				return fmt.Errorf("%s %s and %s %s are one route to OpenAPI", verb, path, verb, keep)
			}
			for _, ref := range op.Parameters {
				if ref.Value != nil && ref.Value.In == openapi3.ParameterInPath {
					if name, ok := rename[ref.Value.Name]; ok {
						ref.Value.Description = strings.TrimSpace("Fills `" + ref.Value.Name + "`. " + ref.Value.Description)
						ref.Value.Name = name
					}
				}
			}
			target.SetOperation(verb, op)
		}
		doc.Paths.Delete(path)
	}
	return nil
}

// operation fixes one operation: its id and tag for the Connect route, its
// security, its error response, its parameters' constraints.
func (p *post) operation(doc *openapi3.T, op *openapi3.Operation, o operation) {
	procedure := "/" + string(o.method.Parent().FullName()) + "/" + string(o.method.Name())
	if o.connect {
		op.OperationID += "_Connect"
		op.Tags = []string{string(o.method.Parent().Name()) + " (Connect)"}
		if def := op.Responses.Default(); def != nil {
			def.Value = openapi3.NewResponse().
				WithDescription("A Connect error: its code name, message and details (docs/errors.md).").
				WithJSONSchemaRef(openapi3.NewSchemaRef("#/components/schemas/ConnectError", doc.Components.Schemas["ConnectError"].Value))
		}
	} else if def := op.Responses.Default(); def != nil && def.Value != nil {
		def.Value.Description = ptr("An error: the HTTP status of its code and a google.rpc.Status body with ErrorInfo, BadRequest… details (docs/rest.md).")
	}
	if protoopt.Access(o.method) == switchboardv1.Access_ACCESS_PUBLIC {
		op.Security = &openapi3.SecurityRequirements{} // callable without a key
	} else {
		need := "an API key whose scopes grant `" + strings.TrimPrefix(procedure, "/") + "`"
		if scope := protoopt.Scope(o.method); scope != "" {
			need = "an API key with the `" + scope + "` scope"
			if i := strings.LastIndexByte(scope, '.'); i > 0 {
				need += " (or one above it, such as `" + scope[:i] + "`)" // scope.go: a name grants every name below it
			}
		}
		op.Description = strings.TrimSpace(op.Description + "\n\nNeeds " + need + ".")
	}
	for _, ref := range op.Parameters {
		param := ref.Value
		if param == nil || param.Schema == nil || param.Schema.Value == nil {
			continue
		}
		field, err := rest.FieldOf(o.method.Input(), param.Name)
		if err != nil {
			continue
		}
		formatInt64(param.Schema.Value, field)
		if rules := protoopt.Rules(field); rules != "" {
			if constrain(param.Schema.Value, field, rules) && param.In == openapi3.ParameterInQuery {
				param.Required = true
			}
		}
	}
}

// constrainMessage applies every field's rules to the message's schema.
func constrainMessage(schema *openapi3.Schema, msg protoreflect.MessageDescriptor) {
	fields := msg.Fields()
	for i := range fields.Len() {
		field := fields.Get(i)
		rules := protoopt.Rules(field)
		prop, ok := schema.Properties[field.JSONName()]
		if ok && prop.Value != nil && prop.Ref == "" {
			formatInt64(prop.Value, field)
		}
		if rules == "" || !ok {
			continue
		}
		target := prop.Value
		if prop.Ref != "" {
			// A message-typed field: its schema is the message's, shared,
			// and a reference takes no siblings in OpenAPI 3.0. Only
			// "required" (on this message) applies.
			target = &openapi3.Schema{}
		}
		if constrain(target, field, rules) && !slices.Contains(schema.Required, field.JSONName()) {
			schema.Required = append(schema.Required, field.JSONName())
		}
	}
}

func ptr[T any](v T) *T { return &v }

// connectErrorSchema is the Connect protocol's JSON error body.
func connectErrorSchema() *openapi3.SchemaRef {
	codes := []any{"canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists",
		"permission_denied", "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
		"unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"}
	described := func(s *openapi3.Schema, text string) *openapi3.Schema { s.Description = text; return s }
	detail := openapi3.NewObjectSchema().
		WithProperty("type", described(openapi3.NewStringSchema(), "The detail's fully-qualified message name: google.rpc.ErrorInfo, google.rpc.BadRequest…")).
		WithProperty("value", described(openapi3.NewBytesSchema(), "The detail message, binary protobuf in base64.")).
		WithProperty("debug", described(openapi3.NewObjectSchema().WithAnyAdditionalProperties(), "The detail as JSON, for people; the kit always sends it.")).
		WithAnyAdditionalProperties()
	schema := openapi3.NewObjectSchema().
		WithProperty("code", openapi3.NewStringSchema().WithEnum(codes...)).
		WithProperty("message", openapi3.NewStringSchema()).
		WithProperty("details", openapi3.NewArraySchema().WithItems(detail))
	schema.Description = "A Connect error (connectrpc.com/docs/protocol#error-end-stream)."
	schema.Required = []string{"code"}
	return openapi3.NewSchemaRef("", schema)
}
