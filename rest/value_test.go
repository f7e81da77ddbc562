package rest

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func fieldOf(m interface{ ProtoReflect() protoreflect.Message }, name string) protoreflect.FieldDescriptor {
	return m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name))
}

// Values are taken as the transcoder reads them — JSON's grammar for the
// field's Go type — so that none passes here to be refused, or read
// otherwise, after the call has begun.
func TestCheckValue_ReadsAsTheTranscoderReads(t *testing.T) {
	seconds := fieldOf(&timestamppb.Timestamp{}, "seconds") // int64
	nanos := fieldOf(&timestamppb.Timestamp{}, "nanos")     // int32
	for _, tc := range []struct {
		field protoreflect.FieldDescriptor
		good  []string
		bad   []string
	}{
		{seconds, []string{"0", "-7", "9223372036854775807"}, []string{"1e0", "1.0", "+1", "007", "", " 1", "9223372036854775808", "0x10"}},
		{nanos, []string{"1", "-2147483648"}, []string{"2147483648", "1e3"}},
		{fieldOf(&wrapperspb.UInt32Value{}, "value"), []string{"4294967295"}, []string{"-1", "4294967296"}},
		{fieldOf(&wrapperspb.FloatValue{}, "value"), []string{"1.5", "-2e3", "NaN", "Infinity", "-Infinity"}, []string{"1e39", ".5", "nan", "1."}},
		{fieldOf(&descriptorpb.FieldOptions{}, "deprecated"), []string{"true", "false"}, []string{"1", "True", "yes"}},
		{fieldOf(&wrapperspb.BytesValue{}, "value"), []string{"aGk=", "aGk", "-_8"}, []string{"a", "!!"}},
		{fieldOf(&descriptorpb.FieldDescriptorProto{}, "type"), []string{"TYPE_STRING", "9", "99"}, []string{"type_string", "STRING", "1e0"}},
	} {
		for _, v := range tc.good {
			if err := checkValue(tc.field, v); err != nil {
				t.Errorf("%s %q refused: %v", tc.field.FullName(), v, err)
			}
		}
		for _, v := range tc.bad {
			if checkValue(tc.field, v) == nil {
				t.Errorf("%s %q accepted", tc.field.FullName(), v)
			}
		}
	}
}
