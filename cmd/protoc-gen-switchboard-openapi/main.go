// Command protoc-gen-switchboard-openapi is a protoc/buf plugin that writes
// the OpenAPI 3 contract of services served by the Switchboard kit:
// openapi.yaml and openapi.json, describing
//
//   - the REST routes the methods declare with google.api.http (docs/rest.md);
//   - the Connect POST route of every unary method (/pkg.Service/Method with
//     a JSON body), which curl and any HTTP client can call;
//   - the kit's API-key security (Authorization: Bearer, or X-Api-Key), with
//     the methods marked ACCESS_PUBLIC needing none;
//   - (switchboard.v1.rules) as schema constraints where they map (required,
//     min/max, lengths, oneof, formats), and every rule as written in an
//     x-switchboard-rules extension;
//   - OUTPUT_ONLY fields as readOnly.
//
// The routes and schemas come from google/gnostic's protoc-gen-openapi,
// run here as a library (gnostic does google.api.http, protojson names and
// field_behavior well; it knows nothing of Connect or of the kit). This
// plugin gives it a Connect binding per unary method before it runs, and
// post-processes its document with kin-openapi after; it refuses to write a
// document kin-openapi does not validate.
//
// Parameters (buf's opt, or protoc's --switchboard-openapi_opt): title,
// version, description.
//
// It must not describe what the kit does not serve: no route that is not
// declared, no constraint the validator does not enforce.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/gnostic/cmd/protoc-gen-openapi/generator"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "protoc-gen-switchboard-openapi:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	req := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		return fmt.Errorf("read the request: %w", err)
	}
	params := parseParams(req.GetParameter())
	req.Parameter = nil
	addConnectBindings(req)
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		return err
	}
	plugin.SupportedFeatures = uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL)
	if err := generate(plugin, params); err != nil {
		plugin.Error(err)
	}
	res, err := proto.Marshal(plugin.Response())
	if err != nil {
		return err
	}
	_, err = out.Write(res)
	return err
}

func parseParams(s string) map[string]string {
	params := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			params[strings.TrimSpace(k)] = v
		}
	}
	return params
}

// addConnectBindings gives every unary method of the files to generate a
// google.api.http binding for its Connect route — POST /pkg.Service/Method
// with the whole request as the body — so gnostic describes it beside the
// REST routes. It edits the request's descriptors, not compiled ones.
func addConnectBindings(req *pluginpb.CodeGeneratorRequest) {
	generate := map[string]bool{}
	for _, name := range req.GetFileToGenerate() {
		generate[name] = true
	}
	for _, file := range req.GetProtoFile() {
		if !generate[file.GetName()] {
			continue
		}
		for _, svc := range file.GetService() {
			for _, m := range svc.GetMethod() {
				if m.GetClientStreaming() || m.GetServerStreaming() {
					continue // a Connect stream is enveloped: not plain JSON over HTTP
				}
				path := "/" + qualify(file.GetPackage(), svc.GetName()) + "/" + m.GetName()
				binding := &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: path}, Body: "*"}
				if m.Options == nil {
					m.Options = &descriptorpb.MethodOptions{}
				}
				rule, _ := proto.GetExtension(m.Options, annotations.E_Http).(*annotations.HttpRule)
				if rule == nil || rule.GetPattern() == nil {
					rule = binding
				} else {
					rule.AdditionalBindings = append(rule.AdditionalBindings, binding)
				}
				proto.SetExtension(m.Options, annotations.E_Http, rule)
			}
		}
	}
}

func qualify(pkg, name string) string {
	if pkg == "" {
		return name
	}
	return pkg + "." + name
}

// generate runs gnostic, post-processes its document and writes it as
// openapi.yaml and openapi.json.
func generate(plugin *protogen.Plugin, params map[string]string) error {
	str := func(s string) *string { return &s }
	conf := generator.Configuration{
		Version:         str(cmpOr(params["version"], "1.0.0")),
		Title:           str(params["title"]),
		Description:     str(params["description"]),
		Naming:          str("json"),   // protojson's names, as the kit's JSON speaks
		EnumType:        str("string"), // enum names, as the kit's JSON speaks
		FQSchemaNaming:  new(false),
		CircularDepth:   new(2),
		DefaultResponse: new(true),
		OutputMode:      str("merged"),
	}
	scratch := plugin.NewGeneratedFile("gnostic.yaml", "")
	if err := generator.NewOpenAPIv3Generator(plugin, conf, plugin.Files).Run(scratch); err != nil {
		return fmt.Errorf("gnostic: %w", err)
	}
	raw, err := scratch.Content()
	if err != nil {
		return err
	}
	scratch.Skip()

	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		return fmt.Errorf("read gnostic's document: %w", err)
	}
	if err := newPost(plugin).apply(doc); err != nil {
		return err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return fmt.Errorf("the document does not validate: %w", err)
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	var tree any
	if err := json.Unmarshal(js, &tree); err != nil {
		return err
	}
	ys, err := yaml.Marshal(tree)
	if err != nil {
		return err
	}
	const header = "# Generated by protoc-gen-switchboard-openapi (google/gnostic's generator, post-processed). DO NOT EDIT.\n"
	if _, err := plugin.NewGeneratedFile("openapi.yaml", "").Write(append([]byte(header), ys...)); err != nil {
		return err
	}
	_, err = plugin.NewGeneratedFile("openapi.json", "").Write(append(js, '\n'))
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
