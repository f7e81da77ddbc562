package validate_test

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/switchboardkit/switchboard/validate"
)

func TestJSONCodec_UnknownEnumNamesAreViolationsUnknownFieldsAreNot(t *testing.T) {
	codec := validate.NewJSONCodec()
	for _, tc := range []struct {
		json   string
		fields []string // nil: decodes fine
	}{
		{`{"name":"a","type":"TYPE_STRING"}`, nil},
		{`{"name":"a","type":"TYPE_STRING","addedLater":1}`, nil}, // unknown field: ignored
		{`{"type":9}`, nil}, // numbers are protojson's business
		{`{"type":"TYPE_NOPE"}`, []string{"type"}},
		{`{"type":"TYPE_NOPE","label":"LABEL_NOPE","addedLater":true}`, []string{"label", "type"}},
		{`{"messageType":[{"field":[{"name":"ok","type":"TYPE_INT32"},{"type":"X"}]}]}`, []string{"message_type[0].field[1].type"}},
		{`{"message_type":[{"field":[{"label":"Y"}]}]}`, []string{"message_type[0].field[0].label"}}, // proto names too
	} {
		var msg descriptorpb.FileDescriptorProto
		target := any(&msg)
		if tc.json[2] == 'n' || tc.json[2] == 't' || tc.json[2] == 'l' {
			target = new(descriptorpb.FieldDescriptorProto)
		}
		err := codec.UnmarshalRead(t.Context(), bytes.NewReader([]byte(tc.json)), target)
		var verr *validate.Error
		switch {
		case tc.fields == nil && err != nil:
			t.Errorf("%s: %v", tc.json, err)
		case tc.fields != nil && !errors.As(err, &verr):
			t.Errorf("%s: %v, want a validation error", tc.json, err)
		case tc.fields != nil:
			var got []string
			for _, v := range verr.Violations {
				got = append(got, v.Field)
				if v.Rule != "enum" {
					t.Errorf("%s: rule %q", tc.json, v.Rule)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.fields) {
				t.Errorf("%s: fields %v, want %v", tc.json, got, tc.fields)
			}
		}
	}
	// Malformed JSON stays a decode error.
	if err := codec.UnmarshalRead(t.Context(), bytes.NewReader([]byte(`{"type":`)), new(descriptorpb.FieldDescriptorProto)); err == nil {
		t.Error("malformed JSON accepted")
	}
}

func TestJSONCodec_BoundedOnHostileInput(t *testing.T) {
	codec := validate.NewJSONCodec()
	// Thousands of bad enum names: at most 100 violations come back.
	var b strings.Builder
	b.WriteString(`{"field":[`)
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"type":"NOPE"}`)
	}
	b.WriteString(`],"unknownField":1}`)
	err := codec.UnmarshalRead(t.Context(), strings.NewReader(b.String()), new(descriptorpb.DescriptorProto))
	var verr *validate.Error
	if !errors.As(err, &verr) || len(verr.Violations) != 100 {
		t.Fatalf("got %v, want exactly 100 violations", err)
	}
	// A large body with one unknown field is walked once, token by token:
	// what it allocates is in proportion to the body, not a decoded copy of
	// it per level.
	b.Reset()
	b.WriteString(`{"unknownField":1,"field":[`)
	for i := range 20000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"name":"n","type":"TYPE_STRING","jsonName":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	}
	b.WriteString(`]}`)
	body := b.String()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := codec.UnmarshalRead(t.Context(), strings.NewReader(body), new(descriptorpb.DescriptorProto)); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(60*len(body)) {
		t.Errorf("decoding %d bytes allocated %d bytes", len(body), alloc)
	}
}
