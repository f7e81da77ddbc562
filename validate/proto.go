package validate

// Reading a message's rules from its proto: the (switchboard.v1.rules)
// option of each field, into the validator's rule table.

import (
	"reflect"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/switchboardkit/switchboard/internal/protoopt"
)

// RegisterMessages reads the rules of the given messages and of every
// message reachable through their fields, so the first call of a method
// pays nothing for it (the kit registers every method's request message
// before serving). Messages whose Go type is not linked are skipped.
func (e *Engine) RegisterMessages(descs ...protoreflect.MessageDescriptor) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var learned []protoreflect.FullName
	for _, d := range descs {
		learned = e.learn(d, learned)
	}
	if len(learned) > 0 {
		e.publish(learned)
	}
}

// publish swaps in a validator with every rule known now, and only then
// marks the messages just learned as seen: a Validate that finds a message
// seen always has its rules. Called with e.mu held.
func (e *Engine) publish(learned []protoreflect.FullName) {
	e.rebuild()
	for _, name := range learned {
		e.seen.Store(name, true)
	}
}

// learn reads the rules of md and of every message reachable from it into
// e.proto, and returns learned with the messages read for the first time
// appended. Called with e.mu held.
func (e *Engine) learn(md protoreflect.MessageDescriptor, learned []protoreflect.FullName) []protoreflect.FullName {
	if e.learned[md.FullName()] {
		return learned
	}
	e.learned[md.FullName()] = true
	learned = append(learned, md.FullName())
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return learned // no Go type: nothing to validate against
	}
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if rule := fieldRule(f); rule != "" {
			t, name := structField(mt, f)
			if e.proto[t] == nil {
				e.proto[t] = map[string]string{}
			}
			e.proto[t][name] = rule
		}
		switch {
		case f.IsMap() && f.MapValue().Message() != nil:
			learned = e.learn(f.MapValue().Message(), learned)
		case f.Message() != nil && !f.IsMap():
			learned = e.learn(f.Message(), learned)
		}
	}
	return learned
}

// fieldRule is the validator tag for f: its (switchboard.v1.rules), with
// "dive" added for a list or map of messages (validator checks the elements
// of a slice or map only when told to), and "omitnil" in front for an unset
// proto3 optional field, which has no value to check.
func fieldRule(f protoreflect.FieldDescriptor) string {
	rule := protoopt.Rules(f)
	elems := (f.IsList() && f.Message() != nil) || (f.IsMap() && f.MapValue().Message() != nil)
	if elems && !hasTag(rule, "dive") {
		rule = strings.TrimPrefix(rule+",dive", ",")
	}
	if rule != "" && f.HasOptionalKeyword() && !hasTag(rule, "required") && !hasTag(rule, "omitempty") && !hasTag(rule, "omitnil") {
		rule = "omitnil," + rule
	}
	return rule
}

func hasTag(rule, tag string) bool {
	for _, part := range strings.Split(rule, ",") {
		if name, _, _ := strings.Cut(part, "="); name == tag {
			return true
		}
	}
	return false
}

// structField returns the Go struct type and field name that hold f: the
// message's own struct, or for a member of a oneof, the generated wrapper
// struct the oneof's interface field holds when f is set (validator looks
// through interfaces, so rules on the wrapper apply).
func structField(mt protoreflect.MessageType, f protoreflect.FieldDescriptor) (reflect.Type, string) {
	t := reflect.TypeOf(mt.Zero().Interface()).Elem()
	o := f.ContainingOneof()
	if o == nil || o.IsSynthetic() {
		return t, goFieldName(t, string(f.Name()))
	}
	m := mt.New()
	m.Set(f, m.NewField(f))
	v := reflect.ValueOf(m.Interface()).Elem()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("protobuf_oneof") == string(o.Name()) {
			wrapper := v.Field(i).Elem().Type().Elem() // *X_Member → X_Member
			return wrapper, goFieldName(wrapper, string(f.Name()))
		}
	}
	return t, goFieldName(t, string(f.Name()))
}

// know reads the rules of v's message type the first time it is met.
func (e *Engine) know(v any) {
	if m, ok := v.(proto.Message); ok {
		md := m.ProtoReflect().Descriptor()
		if _, seen := e.seen.Load(md.FullName()); !seen {
			e.RegisterMessages(md)
		}
	}
}
