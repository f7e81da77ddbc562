package main

import (
	"bytes"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"

	adminv1 "github.com/switchboardkit/switchboard/gen/switchboard/admin/v1"
	switchboardtestv1 "github.com/switchboardkit/switchboard/gen/switchboardtest/v1"
)

// request is what buf sends the plugin for files: them and their imports,
// imports first, with go_package set as managed mode sets it.
func request(files ...protoreflect.FileDescriptor) *pluginpb.CodeGeneratorRequest {
	req := &pluginpb.CodeGeneratorRequest{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		fdp := protodesc.ToFileDescriptorProto(f)
		if fdp.Options == nil {
			fdp.Options = &descriptorpb.FileOptions{}
		}
		if fdp.Options.GoPackage == nil {
			fdp.Options.GoPackage = proto.String("example.com/gen/" + string(f.Package()))
		}
		req.ProtoFile = append(req.ProtoFile, fdp)
	}
	for _, f := range files {
		add(f)
		req.FileToGenerate = append(req.FileToGenerate, f.Path())
	}
	return req
}

// The plugin on services other than the pet store — several at once, with
// streaming methods, named scopes, REST routes and none — writes a document
// that validates, titled after them.
func TestPlugin_OtherServicesMakeAValidDocument(t *testing.T) {
	in, err := proto.Marshal(request(adminv1.File_switchboard_admin_v1_admin_proto, switchboardtestv1.File_switchboardtest_v1_echo_proto))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(bytes.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	res := new(pluginpb.CodeGeneratorResponse)
	if err := proto.Unmarshal(out.Bytes(), res); err != nil {
		t.Fatal(err)
	}
	if res.GetError() != "" {
		t.Fatalf("the plugin failed: %s", res.GetError())
	}
	var yaml []byte
	for _, f := range res.GetFile() {
		if f.GetName() == "openapi.yaml" {
			yaml = []byte(f.GetContent())
		}
	}
	doc, err := openapi3.NewLoader().LoadFromData(yaml)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Title != "AdminService, EchoService API" {
		t.Errorf("title %q", doc.Info.Title)
	}
	for path, want := range map[string]string{
		"/switchboard.admin.v1.AdminService/ListApiKeys": "`admin.read` scope", // a named scope
		"/switchboardtest.v1.EchoService/Echo":           "scopes grant `switchboardtest.v1.EchoService/Echo`",
		"/v1/echo":                                       "", // the REST route, described as the Connect one
	} {
		item := doc.Paths.Value(path)
		if item == nil || item.Post == nil {
			t.Errorf("no POST %s", path)
			continue
		}
		if want != "" && !bytes.Contains([]byte(item.Post.Description), []byte(want)) {
			t.Errorf("POST %s: description %q lacks %q", path, item.Post.Description, want)
		}
	}
	if doc.Paths.Value("/switchboardtest.v1.EchoService/Chat") != nil {
		t.Error("a bidi stream has a route: Connect streams are not plain JSON over HTTP")
	}
}
