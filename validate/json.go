package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// JSONCodec is the Connect JSON codec with one change: an enum value given by
// a name the enum does not define is a validation failure (an *Error whose
// violation names the field), not a silently dropped field. protojson with
// DiscardUnknown — the only way to accept fields added by newer clients —
// drops such values, so {"species":"X"} would become "no filter". Unknown
// fields are still accepted and ignored.
//
// Well-formed input costs one strict decode, as before; only input that the
// strict decode refuses is decoded leniently and walked for enum names.
type JSONCodec struct {
	*connectproto.JSONCodec
}

// NewJSONCodec returns the codec; register it on both client and server
// transports with connecthttp.WithCodecs, beside connectproto's binary codec.
func NewJSONCodec() *JSONCodec {
	return &JSONCodec{JSONCodec: connectproto.NewJSONCodec()}
}

// UnmarshalRead implements connect.Codec.
func (c *JSONCodec) UnmarshalRead(ctx context.Context, src io.Reader, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return c.JSONCodec.UnmarshalRead(ctx, src, msg)
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return err
	}
	strict := c.UnmarshalOptions
	strict.DiscardUnknown = false
	if len(data) > 0 && strict.Unmarshal(data, m) == nil {
		return nil
	}
	proto.Reset(m)
	if err := c.JSONCodec.UnmarshalRead(ctx, bytes.NewReader(data), m); err != nil {
		return err
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		return nil // protojson accepted it; nothing more to learn
	}
	var verr Error
	unknownEnums(m.ProtoReflect().Descriptor(), doc, "", &verr)
	if len(verr.Violations) > 0 {
		return &verr
	}
	return nil
}

// unknownEnums walks a JSON document along md and records every enum field
// given a name its enum does not define.
func unknownEnums(md protoreflect.MessageDescriptor, doc any, prefix string, verr *Error) {
	obj, ok := doc.(map[string]any)
	if !ok || specialJSON[md.FullName()] {
		return // well-known types with JSON forms of their own
	}
	for key, val := range obj {
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByTextName(key)
		}
		if fd == nil {
			continue // an unknown field: ignored, as before
		}
		path := joinPath(prefix, string(fd.Name()))
		switch {
		case fd.IsMap():
			entries, _ := val.(map[string]any)
			for k, v := range entries {
				checkValue(fd.MapValue(), v, fmt.Sprintf("%s[%q]", path, k), verr)
			}
		case fd.IsList():
			items, _ := val.([]any)
			for i, v := range items {
				checkValue(fd, v, fmt.Sprintf("%s[%d]", path, i), verr)
			}
		default:
			checkValue(fd, val, path, verr)
		}
	}
}

func checkValue(fd protoreflect.FieldDescriptor, val any, path string, verr *Error) {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		name, isName := val.(string)
		enum := fd.Enum()
		if !isName || enum.FullName() == "google.protobuf.NullValue" || enum.Values().ByName(protoreflect.Name(name)) != nil {
			return
		}
		verr.Violations = append(verr.Violations, Violation{
			Field: path, Rule: "enum",
			Description: fmt.Sprintf("%q is not a value of %s: use one of %s", name, enum.Name(), enumNames(enum)),
		})
	case protoreflect.MessageKind, protoreflect.GroupKind:
		unknownEnums(fd.Message(), val, path, verr)
	}
}

// specialJSON lists the well-known types whose JSON is not an object of
// their fields.
var specialJSON = map[protoreflect.FullName]bool{
	"google.protobuf.Any": true, "google.protobuf.Timestamp": true, "google.protobuf.Duration": true,
	"google.protobuf.FieldMask": true, "google.protobuf.Struct": true, "google.protobuf.Value": true,
	"google.protobuf.ListValue": true, "google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true,
	"google.protobuf.Int64Value": true, "google.protobuf.UInt64Value": true, "google.protobuf.Int32Value": true,
	"google.protobuf.UInt32Value": true, "google.protobuf.BoolValue": true, "google.protobuf.StringValue": true,
	"google.protobuf.BytesValue": true,
}

func enumNames(enum protoreflect.EnumDescriptor) string {
	var names []string
	for i := range enum.Values().Len() {
		if i == 12 {
			names = append(names, "…")
			break
		}
		names = append(names, string(enum.Values().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}
