package protoopt_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	petstorev1 "github.com/switchboardkit/switchboard/gen/petstore/v1"
	switchboardv1 "github.com/switchboardkit/switchboard/gen/switchboard/v1"
	"github.com/switchboardkit/switchboard/internal/protoopt"
)

// The options read the same from the compiled descriptor and from one a
// client rebuilt from reflection bytes, where they arrive as unknown fields.
func TestOptions_CompiledAndFromReflectionBytes(t *testing.T) {
	compiled := petstorev1.File_petstore_v1_petstore_proto
	raw, err := proto.Marshal(protodesc.ToFileDescriptorProto(compiled))
	if err != nil {
		t.Fatal(err)
	}
	var fdp descriptorpb.FileDescriptorProto
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(raw, &fdp); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := protodesc.NewFile(&fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	opts := rebuilt.Messages().ByName("Pet").Fields().ByName("name").Options()
	if proto.HasExtension(opts, switchboardv1.E_Rules) {
		t.Fatal("the rebuilt descriptor knows the extension; the test needs it unknown")
	}
	for _, f := range []struct {
		name string
		get  func() any
		want any
	}{
		{"compiled rules", func() any { return protoopt.Rules(compiled.Messages().ByName("Pet").Fields().ByName("name")) }, "required,max=64"},
		{"reflected rules", func() any { return protoopt.Rules(rebuilt.Messages().ByName("Pet").Fields().ByName("name")) }, "required,max=64"},
		{"no rules", func() any { return protoopt.Rules(rebuilt.Messages().ByName("Pet").Fields().ByName("id")) }, ""},
		{"reflected access", func() any {
			return protoopt.Access(rebuilt.Services().Get(0).Methods().ByName("GetPet"))
		}, switchboardv1.Access_ACCESS_PUBLIC},
		{"no access", func() any {
			return protoopt.Access(rebuilt.Services().Get(0).Methods().ByName("CreatePet"))
		}, switchboardv1.Access_ACCESS_UNSPECIFIED},
	} {
		if got := f.get(); got != f.want {
			t.Errorf("%s = %v, want %v", f.name, got, f.want)
		}
	}
}
