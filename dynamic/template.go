package dynamic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TemplateConfig tunes Template.
type TemplateConfig struct {
	// ProtoNames uses proto field names (page_size) instead of JSON names
	// (pageSize); the server accepts both.
	ProtoNames bool
	// Types puts each field's type where its value would be ("int32",
	// "enum petstore.v1.Species: SPECIES_UNSPECIFIED | SPECIES_DOG | …")
	// instead of a sample value, to read rather than send.
	Types bool
}

// Template returns a JSON object with the fields of md a client sets, nested
// messages expanded (a message that contains itself is expanded once),
// repeated messages with one element and maps of messages with one entry.
// Without Types it is a valid request to edit and send: fields annotated
// (google.api.field_behavior) = OUTPUT_ONLY are left out, and repeated or
// map fields of scalars are empty rather than holding a zero value the
// server would take as real. With Types every field is listed.
func Template(md protoreflect.MessageDescriptor, opts TemplateConfig) []byte {
	var b bytes.Buffer
	writeTemplate(&b, md, opts, "", map[protoreflect.FullName]bool{})
	b.WriteByte('\n')
	return b.Bytes()
}

// wellKnown JSON forms of the message types protojson writes specially.
var wellKnown = map[protoreflect.FullName][2]string{
	"google.protobuf.Timestamp":   {`"1970-01-01T00:00:00Z"`, "timestamp (RFC 3339)"},
	"google.protobuf.Duration":    {`"0s"`, "duration (e.g. 1.5s)"},
	"google.protobuf.FieldMask":   {`""`, "field mask (comma-separated paths)"},
	"google.protobuf.Struct":      {`{}`, "JSON object"},
	"google.protobuf.Value":       {`null`, "any JSON value"},
	"google.protobuf.ListValue":   {`[]`, "JSON array"},
	"google.protobuf.Empty":       {`{}`, "empty"},
	"google.protobuf.Any":         {`{"@type": ""}`, "any message, with @type"},
	"google.protobuf.StringValue": {`""`, "string or null"},
	"google.protobuf.BytesValue":  {`""`, "base64 bytes or null"},
	"google.protobuf.BoolValue":   {`false`, "bool or null"},
	"google.protobuf.Int32Value":  {`0`, "int32 or null"},
	"google.protobuf.UInt32Value": {`0`, "uint32 or null"},
	"google.protobuf.Int64Value":  {`"0"`, "int64 or null"},
	"google.protobuf.UInt64Value": {`"0"`, "uint64 or null"},
	"google.protobuf.FloatValue":  {`0`, "float or null"},
	"google.protobuf.DoubleValue": {`0`, "double or null"},
}

func writeTemplate(b *bytes.Buffer, md protoreflect.MessageDescriptor, opts TemplateConfig, indent string, seen map[protoreflect.FullName]bool) {
	if wk, ok := wellKnown[md.FullName()]; ok {
		if opts.Types {
			b.WriteString(quote(wk[1]))
		} else {
			b.WriteString(wk[0])
		}
		return
	}
	if seen[md.FullName()] {
		b.WriteString("{}")
		return
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	var fields []protoreflect.FieldDescriptor
	for i := range md.Fields().Len() {
		if f := md.Fields().Get(i); opts.Types || !outputOnly(f) {
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		b.WriteString("{}")
		return
	}
	b.WriteString("{\n")
	inner := indent + "  "
	for i, f := range fields {
		name := f.JSONName()
		if opts.ProtoNames {
			name = string(f.Name())
		}
		fmt.Fprintf(b, "%s%s: ", inner, quote(name))
		switch {
		case !opts.Types && f.IsMap() && f.MapValue().Message() == nil:
			b.WriteString("{}") // an entry of zero values would be a guess a server may refuse
		case f.IsMap():
			fmt.Fprintf(b, "{%s: ", mapKey(f.MapKey(), opts))
			writeValue(b, f.MapValue(), opts, inner, seen)
			b.WriteString("}")
		case !opts.Types && f.IsList() && f.Message() == nil:
			b.WriteString("[]") // [""] or [0] would be sent as a real element
		case f.IsList():
			b.WriteString("[")
			writeValue(b, f, opts, inner, seen)
			b.WriteString("]")
		default:
			writeValue(b, f, opts, inner, seen)
		}
		if i < len(fields)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString(indent + "}")
}

func writeValue(b *bytes.Buffer, f protoreflect.FieldDescriptor, opts TemplateConfig, indent string, seen map[protoreflect.FullName]bool) {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		writeTemplate(b, f.Message(), opts, indent, seen)
		return
	case protoreflect.EnumKind:
		values := f.Enum().Values()
		if opts.Types {
			var names []string
			for i := range values.Len() {
				names = append(names, string(values.Get(i).Name()))
			}
			b.WriteString(quote(fmt.Sprintf("enum %s: %s", f.Enum().FullName(), strings.Join(names, " | "))))
		} else {
			b.WriteString(quote(string(values.Get(0).Name())))
		}
		return
	}
	if opts.Types {
		b.WriteString(quote(f.Kind().String()))
		return
	}
	switch f.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind:
		b.WriteString(`""`)
	case protoreflect.BoolKind:
		b.WriteString("false")
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b.WriteString(`"0"`) // protojson writes 64-bit integers as strings
	default:
		b.WriteString("0")
	}
}

func mapKey(f protoreflect.FieldDescriptor, opts TemplateConfig) string {
	if opts.Types {
		return quote(f.Kind().String())
	}
	if f.Kind() == protoreflect.StringKind {
		return `"key"`
	}
	if f.Kind() == protoreflect.BoolKind {
		return `"false"`
	}
	return `"0"`
}

func quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// outputOnly reports whether f is annotated
// (google.api.field_behavior) = OUTPUT_ONLY: set by the server, ignored in
// requests.
func outputOnly(f protoreflect.FieldDescriptor) bool {
	opts, ok := f.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil {
		return false
	}
	behaviors, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY)
}
