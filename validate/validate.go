package validate

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-playground/validator/v10"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Violation is one failed rule on one field.
type Violation struct {
	// Field is the proto path of the field: "pet.name", "tags[1]".
	Field string
	// Description says what is wrong in words a caller can act on.
	Description string
	// Rule is the rule that failed ("required", "max", …).
	Rule string
}

// Error is a validation failure: one or more violations.
type Error struct {
	Violations []Violation
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return "invalid request"
	}
	v := e.Violations[0]
	msg := v.Field + ": " + v.Description
	if n := len(e.Violations) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// BadRequest returns the violations as a google.rpc.BadRequest.
func (e *Error) BadRequest() *errdetails.BadRequest {
	br := &errdetails.BadRequest{}
	for _, v := range e.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field: v.Field, Description: v.Description, Reason: v.Rule,
		})
	}
	return br
}

// Prefix returns a copy of e with every field path under prefix
// ("pet" + "name" → "pet.name"; "[2]" + "pet.name" → "[2].pet.name").
func (e *Error) Prefix(prefix string) *Error {
	out := &Error{Violations: make([]Violation, len(e.Violations))}
	for i, v := range e.Violations {
		v.Field = joinPath(prefix, v.Field)
		out.Violations[i] = v
	}
	return out
}

// Fieldf builds an *Error with one violation, for hand-written checks.
func Fieldf(field, rule, format string, args ...any) *Error {
	return &Error{Violations: []Violation{{Field: field, Rule: rule, Description: fmt.Sprintf(format, args...)}}}
}

// Engine validates messages and structs with go-playground/validator v10.
// A generated message's rules come from its proto — the
// (switchboard.v1.rules) option of each field, read the first time the
// engine meets the message (or its service, through RegisterMessages) —
// and from Go (Rules), which may add rules for fields the proto leaves
// alone or replace the proto's rule for a field. Share one engine: Validate,
// Rules and RegisterMessages are safe for concurrent use.
type Engine struct {
	mu      sync.Mutex                         // serializes changes
	proto   map[reflect.Type]map[string]string // rules read from proto options
	goRules map[reflect.Type]map[string]string // rules given to Rules
	learned map[protoreflect.FullName]bool     // messages whose options are read (under mu)
	seen    sync.Map                           // the same, published once their rules are in e.v
	v       atomic.Pointer[validator.Validate] // rebuilt on every change, never changed in place
}

// New returns an engine whose field names are proto names (for generated
// messages) or json names (for domain structs), and which knows the
// "enum" rule: the value is a defined value of its proto enum.
func New() *Engine {
	e := &Engine{
		proto: map[reflect.Type]map[string]string{}, goRules: map[reflect.Type]map[string]string{},
		learned: map[protoreflect.FullName]bool{},
	}
	e.rebuild()
	return e
}

// rebuild makes a new validator with every rule known now and swaps it in:
// validator's rule table must not change while it validates, so it never
// does. Called with e.mu held (or before e is shared).
func (e *Engine) rebuild() {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(fieldName)
	_ = v.RegisterValidation("enum", definedEnum)
	types := map[reflect.Type]bool{}
	for t := range e.proto {
		types[t] = true
	}
	for t := range e.goRules {
		types[t] = true
	}
	for t := range types {
		merged := map[string]string{}
		maps.Copy(merged, e.proto[t])
		maps.Copy(merged, e.goRules[t]) // Go wins for a field it names
		v.RegisterStructValidationMapRules(merged, reflect.New(t).Interface())
	}
	e.v.Store(v)
}

// Rules registers rules for the fields of msg's type, keyed by Go field
// name: {"Name": "required,min=1,max=64", "Tags":
// "max=10,dive,min=1,max=32"}. They are merged with the rules msg's proto
// declares; for a field both name, these win. A later call for the same
// type replaces the earlier one. For generated messages, prefer the
// (switchboard.v1.rules) field option: it travels with the API.
func (e *Engine) Rules(msg any, rules map[string]string) {
	t := reflect.TypeOf(msg)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var learned []protoreflect.FullName
	if m, ok := msg.(proto.Message); ok {
		learned = e.learn(m.ProtoReflect().Descriptor(), nil)
	}
	e.goRules[t] = maps.Clone(rules)
	e.publish(learned)
}

// Validate checks v: its rules (from its proto and from Rules) or its
// `validate` tags, then its own Validate() error method if it has one. It
// returns nil or an *Error; any other error means v could not be validated
// at all.
func (e *Engine) Validate(v any) error {
	e.know(v)
	var violations []Violation // allocated only for a failure: most calls pass
	if err := e.v.Load().Struct(v); err != nil {
		verr, ok := translate(err)
		if !ok {
			return err
		}
		violations = append(violations, verr.Violations...)
	}
	if self, ok := v.(interface{ Validate() error }); ok {
		if err := self.Validate(); err != nil {
			var verr *Error
			if !errors.As(err, &verr) {
				return err
			}
			violations = append(violations, verr.Violations...)
		}
	}
	if len(violations) == 0 {
		return nil
	}
	return &Error{Violations: violations}
}

// ValidateFields checks only the named top-level fields of v (proto or Go
// names), for partial updates under a field mask. A name that is not a
// top-level field of v is a violation of its own ("unknown_field"): a mask
// path this method cannot check must not pass unchecked.
func (e *Engine) ValidateFields(v any, fields ...string) error {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out Error
	goNames := make([]string, 0, len(fields))
	for _, f := range fields {
		name, ok := structFieldName(t, f)
		if !ok {
			out.Violations = append(out.Violations, Violation{Field: f, Rule: "unknown_field",
				Description: "is not a field that can be checked here"})
			continue
		}
		goNames = append(goNames, name)
	}
	if len(out.Violations) > 0 {
		return &out
	}
	e.know(v)
	if err := e.v.Load().StructPartial(v, goNames...); err != nil {
		if verr, ok := translate(err); ok {
			return verr
		}
		return err
	}
	return nil
}

// FromValidator converts validator.ValidationErrors (from any validator
// instance) into an *Error; ok is false for other errors.
func FromValidator(err error) (*Error, bool) { return translate(err) }

func translate(err error) (*Error, bool) {
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return nil, false
	}
	out := &Error{}
	for _, fe := range verrs {
		out.Violations = append(out.Violations, Violation{
			Field:       fieldPath(fe.Namespace()),
			Description: describe(fe),
			Rule:        fe.Tag(),
		})
	}
	return out, true
}

// fieldPath drops the top-level type and any oneof from a validator
// namespace: "CreatePetRequest.pet.name" → "pet.name",
// "AdoptRequest.~.pet.name" → "pet.name" (a oneof is not part of a proto
// field path).
func fieldPath(ns string) string {
	if _, rest, ok := strings.Cut(ns, "."); ok {
		ns = rest
	}
	return strings.TrimPrefix(strings.ReplaceAll(ns, "."+oneofSegment+".", "."), oneofSegment+".")
}

// oneofSegment names a oneof's interface field in validator namespaces, so
// fieldPath can drop it.
const oneofSegment = "~"

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}

// fieldName names struct fields in violations: the proto name from a
// generated field's protobuf tag, else the json name, else the Go name.
func fieldName(f reflect.StructField) string {
	if f.Tag.Get("protobuf_oneof") != "" {
		return oneofSegment
	}
	if tag := f.Tag.Get("protobuf"); tag != "" {
		for _, part := range strings.Split(tag, ",") {
			if name, ok := strings.CutPrefix(part, "name="); ok {
				return name
			}
		}
	}
	if tag := f.Tag.Get("json"); tag != "" {
		if name, _, _ := strings.Cut(tag, ","); name != "" && name != "-" {
			return name
		}
	}
	return f.Name
}

func goFieldName(t reflect.Type, name string) string {
	if goName, ok := structFieldName(t, name); ok {
		return goName
	}
	return name
}

// structFieldName finds the Go name of t's field called name (proto, json
// or Go name).
func structFieldName(t reflect.Type, name string) (string, bool) {
	if t.Kind() != reflect.Struct {
		return "", false
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && (f.Name == name || fieldName(f) == name) {
			return f.Name, true
		}
	}
	return "", false
}

// definedEnum is the "enum" rule: the field is a proto enum and its number is
// one the enum defines.
func definedEnum(fl validator.FieldLevel) bool {
	e, ok := fl.Field().Interface().(protoreflect.Enum)
	if !ok {
		return false
	}
	return e.Descriptor().Values().ByNumber(e.Number()) != nil
}

// describe writes the violation for a person: "must be set", "must be at most
// 64 characters", …
func describe(fe validator.FieldError) string {
	kind := fe.Kind()
	unit := ""
	switch kind {
	case reflect.String:
		unit = " characters"
	case reflect.Slice, reflect.Array, reflect.Map:
		unit = " items"
	}
	switch fe.Tag() {
	case "required":
		return "must be set"
	case "min":
		return "must be at least " + fe.Param() + unit
	case "max":
		return "must be at most " + fe.Param() + unit
	case "len":
		return "must be exactly " + fe.Param() + unit
	case "gte":
		return "must be at least " + fe.Param()
	case "lte":
		return "must be at most " + fe.Param()
	case "gt":
		return "must be greater than " + fe.Param()
	case "lt":
		return "must be less than " + fe.Param()
	case "oneof":
		return "must be one of " + fe.Param()
	case "enum":
		return fmt.Sprintf("%v is not a defined value", fe.Value())
	case "email":
		return "must be an email address"
	case "url", "uri":
		return "must be a URL"
	}
	if fe.Param() != "" {
		return fmt.Sprintf("fails the %s=%s rule", fe.Tag(), fe.Param())
	}
	return "fails the " + fe.Tag() + " rule"
}
