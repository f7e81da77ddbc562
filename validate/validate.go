package validate

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

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

// Engine validates messages and structs. Build it with New, register rules
// at setup, then share it: Validate is safe for concurrent use, but Rules
// must not run concurrently with it.
type Engine struct {
	v *validator.Validate
}

// New returns an engine whose field names are proto names (for generated
// messages) or json names (for domain structs), and which knows the
// "enum" rule: the value is a defined value of its proto enum.
func New() *Engine {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(fieldName)
	_ = v.RegisterValidation("enum", definedEnum)
	return &Engine{v: v}
}

// Rules registers validator rules for the fields of message type msg, keyed
// by Go field name: {"Name": "required,min=1,max=64", "Tags":
// "max=10,dive,min=1,max=32"}. Nested messages are validated with their own
// rules.
func (e *Engine) Rules(msg any, rules map[string]string) {
	e.v.RegisterStructValidationMapRules(rules, msg)
}

// Validate checks v: its registered rules or `validate` tags, then its own
// Validate() error method if it has one. It returns nil or an *Error;
// any other error means v could not be validated at all.
func (e *Engine) Validate(v any) error {
	var out Error
	if err := e.v.Struct(v); err != nil {
		verr, ok := translate(err)
		if !ok {
			return err
		}
		out.Violations = append(out.Violations, verr.Violations...)
	}
	if self, ok := v.(interface{ Validate() error }); ok {
		if err := self.Validate(); err != nil {
			var verr *Error
			if !errors.As(err, &verr) {
				return err
			}
			out.Violations = append(out.Violations, verr.Violations...)
		}
	}
	if len(out.Violations) == 0 {
		return nil
	}
	return &out
}

// ValidateFields checks only the named top-level fields of v (proto or Go
// names), for partial updates under a field mask.
func (e *Engine) ValidateFields(v any, fields ...string) error {
	goNames := make([]string, 0, len(fields))
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for _, f := range fields {
		goNames = append(goNames, goFieldName(t, f))
	}
	if err := e.v.StructPartial(v, goNames...); err != nil {
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

// fieldPath drops the top-level type from a validator namespace:
// "CreatePetRequest.pet.name" → "pet.name".
func fieldPath(ns string) string {
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return ns
}

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
	if t.Kind() != reflect.Struct {
		return name
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Name == name || fieldName(f) == name {
			return f.Name
		}
	}
	return name
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

// IsMessage reports whether v is a protobuf message (the interceptor
// validates only those).
func IsMessage(v any) bool {
	_, ok := v.(proto.Message)
	return ok
}
