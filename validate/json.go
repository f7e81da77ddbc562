package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

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
	buf := bodies.Get().(*bytes.Buffer)
	defer putBody(buf)
	if _, err := buf.ReadFrom(src); err != nil {
		return err
	}
	return c.Unmarshal(buf.Bytes(), m) // protojson copies what it keeps, so the buffer is reused
}

// Unmarshal decodes data into m as UnmarshalRead does: unknown fields are
// ignored, an unknown enum name is an *Error naming its field. Other
// transcoders of JSON into messages (the kit's REST routes) use it so that
// no path drops such a value silently.
func (c *JSONCodec) Unmarshal(data []byte, m proto.Message) error {
	strict := c.UnmarshalOptions
	strict.DiscardUnknown = false
	if len(data) > 0 && strict.Unmarshal(data, m) == nil {
		return nil
	}
	proto.Reset(m)
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := c.UnmarshalOptions.Unmarshal(data, m); err != nil {
		return err
	}
	if specialJSON[m.ProtoReflect().Descriptor().FullName()] {
		return nil
	}
	w := &enumWalker{dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	if tok, err := w.dec.Token(); err != nil || tok != json.Delim('{') {
		return nil // protojson accepted it; nothing more to learn
	}
	_ = w.object(m.ProtoReflect().Descriptor(), "", 0) // a walk that fails finds no more
	if len(w.verr.Violations) > 0 {
		return &w.verr
	}
	return nil
}

// bodies are the buffers request bodies are read into, reused across calls
// as connectproto's own codec does; one that grew past maxPooledBody is let
// go, so a single large request does not pin its memory.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 64 << 10

func putBody(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	bodies.Put(buf)
}

// Bounds of the walk: it runs only on input protojson already accepted,
// but that input is the caller's, so it is one pass over the tokens with
// memory in proportion to the nesting, never a decoded copy of the body.
const (
	maxEnumDepth      = 64  // nesting below which enums are not checked
	maxEnumViolations = 100 // violations reported at most
)

// enumWalker walks a JSON document along a message descriptor, token by
// token, and records every enum field given a name its enum does not
// define.
type enumWalker struct {
	dec  *json.Decoder
	verr Error
}

var errEnough = errors.New("enough violations")

// object walks the members of an object whose '{' was read, up to its '}'.
func (w *enumWalker) object(md protoreflect.MessageDescriptor, prefix string, depth int) error {
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var fd protoreflect.FieldDescriptor
		if md != nil {
			if fd = md.Fields().ByJSONName(key); fd == nil {
				fd = md.Fields().ByTextName(key)
			}
		}
		if fd == nil {
			if err := w.skip(); err != nil { // an unknown field: ignored, as before
				return err
			}
			continue
		}
		path := joinPath(prefix, string(fd.Name()))
		switch {
		case fd.IsMap():
			err = w.container('{', func(key string) error { return w.value(fd.MapValue(), fmt.Sprintf("%s[%q]", path, key), depth) })
		case fd.IsList():
			i := 0
			err = w.container('[', func(string) error {
				i++
				return w.value(fd, fmt.Sprintf("%s[%d]", path, i-1), depth)
			})
		default:
			err = w.value(fd, path, depth)
		}
		if err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return err
}

// container walks an object (open '{': each member's key is passed to each)
// or an array (open '['); null or anything else is skipped.
func (w *enumWalker) container(open json.Delim, each func(key string) error) error {
	tok, err := w.dec.Token()
	if err != nil || tok != open {
		if d, ok := tok.(json.Delim); ok && err == nil {
			return w.skipRest(d)
		}
		return err
	}
	for w.dec.More() {
		key := ""
		if open == '{' {
			k, err := w.dec.Token()
			if err != nil {
				return err
			}
			key, _ = k.(string)
		}
		if err := each(key); err != nil {
			return err
		}
	}
	_, err = w.dec.Token()
	return err
}

// value walks one value of fd's type.
func (w *enumWalker) value(fd protoreflect.FieldDescriptor, path string, depth int) error {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			return w.skipRest(d)
		}
		name, isName := tok.(string)
		enum := fd.Enum()
		if !isName || enum.FullName() == "google.protobuf.NullValue" || enum.Values().ByName(protoreflect.Name(name)) != nil {
			return nil
		}
		w.verr.Violations = append(w.verr.Violations, Violation{
			Field: path, Rule: "enum",
			Description: fmt.Sprintf("%q is not a value of %s: use one of %s", name, enum.Name(), enumNames(enum)),
		})
		if len(w.verr.Violations) >= maxEnumViolations {
			return errEnough
		}
		return nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if specialJSON[fd.Message().FullName()] || depth >= maxEnumDepth {
			return w.skip() // a well-known type's own JSON form, or too deep
		}
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if tok != json.Delim('{') {
			if d, ok := tok.(json.Delim); ok {
				return w.skipRest(d)
			}
			return nil
		}
		return w.object(fd.Message(), path, depth+1)
	}
	return w.skip()
}

// skip consumes one value.
func (w *enumWalker) skip() error {
	tok, err := w.dec.Token()
	if d, ok := tok.(json.Delim); ok && err == nil {
		return w.skipRest(d)
	}
	return err
}

// skipRest consumes the rest of an object or array whose opening d was read.
func (w *enumWalker) skipRest(d json.Delim) error {
	if d != '{' && d != '[' {
		return nil
	}
	for level := 1; level > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			level++
		case json.Delim('}'), json.Delim(']'):
			level--
		}
	}
	return nil
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
