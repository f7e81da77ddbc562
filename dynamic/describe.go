package dynamic

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/internal/protoopt"
)

// Describe renders a descriptor as proto source text: a service with its
// methods, a method, a message with its fields (and nested types), an enum,
// or a field.
func Describe(d protoreflect.Descriptor) string {
	var b strings.Builder
	switch d := d.(type) {
	case protoreflect.ServiceDescriptor:
		fmt.Fprintf(&b, "// %s (%s)\nservice %s {\n", d.FullName(), d.ParentFile().Path(), d.Name())
		for i := range d.Methods().Len() {
			b.WriteString("  " + methodLine(d.Methods().Get(i)) + "\n")
		}
		b.WriteString("}\n")
	case protoreflect.MethodDescriptor:
		fmt.Fprintf(&b, "// %s\n%s\n", d.FullName(), methodLine(d))
	case protoreflect.MessageDescriptor:
		fmt.Fprintf(&b, "// %s (%s)\n", d.FullName(), d.ParentFile().Path())
		writeMessage(&b, d, "")
	case protoreflect.EnumDescriptor:
		fmt.Fprintf(&b, "// %s (%s)\n", d.FullName(), d.ParentFile().Path())
		writeEnum(&b, d, "")
	case protoreflect.FieldDescriptor:
		fmt.Fprintf(&b, "// %s\n%s\n", d.FullName(), fieldLine(d))
	case protoreflect.EnumValueDescriptor:
		fmt.Fprintf(&b, "// %s\n%s = %d;\n", d.FullName(), d.Name(), d.Number())
	default:
		fmt.Fprintf(&b, "// %s\n", d.FullName())
	}
	return b.String()
}

func methodLine(m protoreflect.MethodDescriptor) string {
	stream := func(on bool) string {
		if on {
			return "stream "
		}
		return ""
	}
	line := fmt.Sprintf("rpc %s(%s.%s) returns (%s.%s);", m.Name(),
		stream(m.IsStreamingClient()), m.Input().FullName(), stream(m.IsStreamingServer()), m.Output().FullName())
	return strings.ReplaceAll(strings.ReplaceAll(line, "(.", "("), "stream .", "stream ")
}

func writeMessage(b *strings.Builder, m protoreflect.MessageDescriptor, indent string) {
	fmt.Fprintf(b, "%smessage %s {\n", indent, m.Name())
	inner := indent + "  "
	oneofs := map[protoreflect.FullName]bool{}
	fields := m.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if oneofs[o.FullName()] {
				continue
			}
			oneofs[o.FullName()] = true
			fmt.Fprintf(b, "%soneof %s {\n", inner, o.Name())
			for j := range o.Fields().Len() {
				fmt.Fprintf(b, "%s  %s\n", inner, fieldLine(o.Fields().Get(j)))
			}
			fmt.Fprintf(b, "%s}\n", inner)
			continue
		}
		fmt.Fprintf(b, "%s%s\n", inner, fieldLine(f))
	}
	for i := range m.Messages().Len() {
		if nested := m.Messages().Get(i); !nested.IsMapEntry() {
			writeMessage(b, nested, inner)
		}
	}
	for i := range m.Enums().Len() {
		writeEnum(b, m.Enums().Get(i), inner)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

func writeEnum(b *strings.Builder, e protoreflect.EnumDescriptor, indent string) {
	fmt.Fprintf(b, "%senum %s {\n", indent, e.Name())
	for i := range e.Values().Len() {
		v := e.Values().Get(i)
		fmt.Fprintf(b, "%s  %s = %d;\n", indent, v.Name(), v.Number())
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

func fieldLine(f protoreflect.FieldDescriptor) string {
	label := ""
	switch {
	case f.IsMap():
		return fmt.Sprintf("map<%s, %s> %s = %d;", typeName(f.MapKey()), typeName(f.MapValue()), f.Name(), f.Number())
	case f.IsList():
		label = "repeated "
	case f.HasOptionalKeyword():
		label = "optional "
	}
	return fmt.Sprintf("%s%s %s = %d%s;", label, typeName(f), f.Name(), f.Number(), fieldOptions(f))
}

// fieldOptions shows the kit's validation rules beside the field, as in the
// source: ` [(switchboard.v1.rules) = "required,max=64"]`.
func fieldOptions(f protoreflect.FieldDescriptor) string {
	if rules := protoopt.Rules(f); rules != "" {
		return fmt.Sprintf(" [(switchboard.v1.rules) = %q]", rules)
	}
	return ""
}

func typeName(f protoreflect.FieldDescriptor) string {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(f.Message().FullName())
	case protoreflect.EnumKind:
		return string(f.Enum().FullName())
	}
	return f.Kind().String()
}
