package rest

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// The transcoder reads a path or query value as JSON of the field's Go
// type; these are the JSON grammars it then accepts.
var (
	jsonInt   = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	jsonUint  = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	jsonFloat = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
)

// checkValue checks that a path or query value is one the transcoder reads
// as a value of field's type, as the transcoder reads it — so that a value
// it would refuse (after the handler had started) or read differently is
// refused here, before the call:
//
//   - integers in JSON's grammar (no "1e0", "1.0", "+1", "007") and range;
//   - floats in JSON's grammar, or NaN, Infinity, -Infinity;
//   - booleans true or false; bytes in base64 (standard or URL-safe);
//   - enums by name, or by number;
//   - messages only where JSON maps them to one scalar (Timestamp,
//     Duration, FieldMask, the wrappers), not null and not pre-quoted.
func checkValue(field protoreflect.FieldDescriptor, value string) error {
	wrong := func() error {
		return fmt.Errorf("%q is not a value of %s (%s)", value, field.Name(), kindName(field))
	}
	switch field.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if _, err := strconv.ParseInt(value, 10, 32); err != nil || !jsonInt.MatchString(value) {
			return wrong()
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil || !jsonInt.MatchString(value) {
			return wrong()
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if _, err := strconv.ParseUint(value, 10, 32); err != nil || !jsonUint.MatchString(value) {
			return wrong()
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if _, err := strconv.ParseUint(value, 10, 64); err != nil || !jsonUint.MatchString(value) {
			return wrong()
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if value == "NaN" || value == "Infinity" || value == "-Infinity" {
			return nil
		}
		bits := 64
		if field.Kind() == protoreflect.FloatKind {
			bits = 32
		}
		if _, err := strconv.ParseFloat(value, bits); err != nil || !jsonFloat.MatchString(value) {
			return wrong()
		}
	case protoreflect.BoolKind:
		if value != "true" && value != "false" {
			return wrong()
		}
	case protoreflect.StringKind:
	case protoreflect.BytesKind:
		enc := base64.StdEncoding
		if strings.ContainsAny(value, "-_") {
			enc = base64.URLEncoding
		}
		if len(value)%4 != 0 {
			enc = enc.WithPadding(base64.NoPadding)
		}
		if _, err := enc.DecodeString(value); err != nil {
			return wrong()
		}
	case protoreflect.EnumKind:
		if jsonInt.MatchString(value) {
			if _, err := strconv.ParseInt(value, 10, 32); err != nil {
				return wrong()
			}
			return nil
		}
		if field.Enum().Values().ByName(protoreflect.Name(value)) == nil {
			return wrong()
		}
	case protoreflect.MessageKind:
		return checkScalarMessage(field, value, wrong)
	default:
		return wrong()
	}
	return nil
}

// scalarJSON are the messages whose JSON form is one scalar, and whether
// the transcoder quotes the value before decoding it.
var scalarJSON = map[protoreflect.FullName]bool{
	"google.protobuf.Timestamp": true, "google.protobuf.Duration": true, "google.protobuf.FieldMask": true,
	"google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
	"google.protobuf.DoubleValue": false, "google.protobuf.FloatValue": false, "google.protobuf.Int64Value": false,
	"google.protobuf.UInt64Value": false, "google.protobuf.Int32Value": false, "google.protobuf.UInt32Value": false,
	"google.protobuf.BoolValue": false,
}

func checkScalarMessage(field protoreflect.FieldDescriptor, value string, wrong func() error) error {
	quoted, ok := scalarJSON[field.Message().FullName()]
	switch {
	case !ok:
		return fmt.Errorf("%s is a message: set its fields one by one (%s.name=…)", field.Name(), field.Name())
	case value == "null" || strings.HasPrefix(value, `"`):
		return wrong()
	}
	if inner := field.Message().Fields().ByName("value"); inner != nil && !quoted {
		return checkValue(inner, value) // a wrapper of a number or a boolean: read as the number or the boolean
	}
	literal := value
	if quoted {
		literal = strconv.Quote(value)
	}
	if protojson.Unmarshal([]byte(literal), dynamicpb.NewMessage(field.Message())) != nil {
		return wrong()
	}
	return nil
}

func kindName(f protoreflect.FieldDescriptor) string {
	switch {
	case f.Enum() != nil:
		return "one of " + string(f.Enum().FullName()) + "'s names or numbers"
	case f.Message() != nil:
		return string(f.Message().FullName())
	}
	return f.Kind().String()
}
