package requestlog

import (
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// redacted replaces a secret value in captured payloads.
const redacted = "[REDACTED]"

// payloadCapture turns a message into JSON for the request log with secrets
// removed: fields whose descriptor says debug_redact, and configured paths.
type payloadCapture struct {
	maxBytes int
	paths    []string
}

func (c *payloadCapture) encode(msg any) string {
	m, ok := msg.(proto.Message)
	if !ok {
		return ""
	}
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		return ""
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return ""
	}
	paths := append(redactedFields(m.ProtoReflect(), ""), c.paths...)
	for _, p := range paths {
		redactPath(doc, strings.Split(p, "."))
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return ""
	}
	if c.maxBytes > 0 && len(out) > c.maxBytes {
		return string(out[:c.maxBytes]) + "…(truncated)"
	}
	return string(out)
}

// redactedFields lists the paths of set fields marked debug_redact, through
// nested messages (lists and maps are redacted whole at their field).
func redactedFields(m protoreflect.Message, prefix string) []string {
	var paths []string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := string(fd.Name())
		if prefix != "" {
			path = prefix + "." + path
		}
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDebugRedact() {
			paths = append(paths, path)
			return true
		}
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
			paths = append(paths, redactedFields(v.Message(), path)...)
		}
		return true
	})
	return paths
}

// redactPath replaces the value at path in doc; a path through a list applies
// to every element.
func redactPath(node any, path []string) {
	switch n := node.(type) {
	case map[string]any:
		v, ok := n[path[0]]
		if !ok {
			return
		}
		if len(path) == 1 {
			n[path[0]] = redacted
			return
		}
		redactPath(v, path[1:])
	case []any:
		for _, e := range n {
			redactPath(e, path)
		}
	}
}
