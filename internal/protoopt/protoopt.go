// Package protoopt reads the kit's own proto options — (switchboard.v1.access)
// and (switchboard.v1.scope) on methods, (switchboard.v1.rules) on fields —
// from descriptors however they were built: compiled into this binary, or
// received through reflection and parsed without the extensions known, where
// an option is still an unknown field of its options message. Auth, the
// validation engine and the dynamic client all read them here, the same way.
package protoopt

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	switchboardv1 "github.com/switchboardkit/switchboard/gen/switchboard/v1"
)

// Rules returns a field's (switchboard.v1.rules), or "".
func Rules(f protoreflect.FieldDescriptor) string {
	rules, _ := get(f.Options(), switchboardv1.E_Rules).(string)
	return rules
}

// Access returns a method's (switchboard.v1.access), or ACCESS_UNSPECIFIED.
func Access(m protoreflect.MethodDescriptor) switchboardv1.Access {
	access, _ := get(m.Options(), switchboardv1.E_Access).(switchboardv1.Access)
	return access
}

// Scope returns the named scope a method's (switchboard.v1.scope) requires,
// or "".
func Scope(m protoreflect.MethodDescriptor) string {
	scope, _ := get(m.Options(), switchboardv1.E_Scope).(string)
	return scope
}

// get returns the extension's value on opts, resolving it from opts'
// unknown fields when the descriptor was parsed without it; nil when unset.
func get(opts proto.Message, xt protoreflect.ExtensionType) any {
	if opts == nil || !opts.ProtoReflect().IsValid() {
		return nil
	}
	if proto.HasExtension(opts, xt) {
		return proto.GetExtension(opts, xt)
	}
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return nil
	}
	raw, err := proto.Marshal(opts)
	if err != nil {
		return nil
	}
	resolved := opts.ProtoReflect().New().Interface()
	unmarshal := proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}
	if unmarshal.Unmarshal(raw, resolved) != nil || !proto.HasExtension(resolved, xt) {
		return nil
	}
	return proto.GetExtension(resolved, xt)
}
