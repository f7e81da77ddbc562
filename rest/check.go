package rest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"connectrpc.com/connect/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/switchboardkit/switchboard/validate"
)

// ReasonInvalidRESTRequest is the ErrorInfo reason of a REST request
// refused before its call (a parameter that is not a field, a value of the
// wrong type, a body where the route takes none…).
const ReasonInvalidRESTRequest = "INVALID_REST_REQUEST"

// refusedError is a request the REST layer answers itself, before the
// call: the transcoder would otherwise answer some of these only after the
// Connect handler had started on an empty request, and others as 500.
type refusedError struct {
	status  int // HTTP
	code    connect.Code
	message string
	details []proto.Message
}

func refuse(status int, code connect.Code, reason, format string, args ...any) *refusedError {
	return &refusedError{status: status, code: code, message: fmt.Sprintf(format, args...),
		details: []proto.Message{&errdetails.ErrorInfo{Reason: reason, Domain: errorDomain}}}
}

// field adds a BadRequest naming the parameter or field at fault.
func (e *refusedError) field(name, description string) *refusedError {
	e.details = append(e.details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: name, Description: description},
	}})
	return e
}

// check is what the REST layer verifies of a request on a route before
// the transcoder turns it into a call, so that a request it cannot turn
// into exactly the call the client asked for is refused whole: the
// handler never runs on a partial request.
//
//   - Content-Encoding: none (a compressed body is not taken: its size
//     before decompression says nothing of its size after).
//   - Content-Type: JSON, when there is a body.
//   - X-Server-Timeout: a number of seconds.
//   - Query parameters: each names a field of the request (proto or JSON
//     names, dotted), not one the path or the body sets, given once unless
//     the field is repeated (a FieldMask's values are joined), with a value
//     of the field's type. FieldMask paths may use proto names.
//   - Path variables: values of their fields' types.
//   - The body: only where the route takes one, at most maxBytes, and
//     decoding as the kit's JSON codec decodes (an unknown enum name is a
//     field violation).
//
// It returns the request to hand on (its query and body possibly
// rewritten), or the refusal to answer.
func (h *Handler) check(r *http.Request, route *Route, parts []string) (*http.Request, *refusedError) {
	if enc := r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
			"compressed request bodies (Content-Encoding: %s) are not accepted on REST routes", enc)
	}
	if t := r.Header.Get("X-Server-Timeout"); t != "" {
		if s, err := strconv.ParseFloat(t, 64); err != nil || s < 0 {
			return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
				"X-Server-Timeout %q is not a number of seconds", t)
		}
	}
	vars := route.variables(parts)
	for name, value := range vars {
		fields, err := resolve(route.input, name)
		if err == nil {
			err = checkValue(fields[len(fields)-1], value)
		}
		if err != nil {
			return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
				"path %s: %v", name, err).field(name, err.Error())
		}
	}
	query, rewritten, refusal := checkQuery(r.URL.Query(), route, vars)
	if refusal != nil {
		return nil, refusal
	}
	body, refusal := h.checkBody(r, route)
	if refusal != nil {
		return nil, refusal
	}
	if rewritten {
		u := *r.URL
		u.RawQuery = query.Encode()
		r.URL = &u
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r, nil
}

func checkQuery(query url.Values, route *Route, vars map[string]string) (url.Values, bool, *refusedError) {
	rewritten := false
	for name, values := range query {
		bad := func(format string, args ...any) (url.Values, bool, *refusedError) {
			msg := fmt.Sprintf(format, args...)
			return nil, false, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
				"query parameter %s: %s", name, msg).field(name, msg)
		}
		fields, err := resolve(route.input, name)
		if err != nil {
			return bad("%v", err)
		}
		path := protoPath(fields)
		if route.Body == "*" {
			return bad("the body is the whole request on %s %s", route.Method, route.Path)
		}
		if route.Body != "" && (path == route.Body || strings.HasPrefix(path, route.Body+".")) {
			return bad("%s comes in the body on %s %s", route.Body, route.Method, route.Path)
		}
		for v := range vars {
			if p, _ := resolve(route.input, v); p != nil {
				if set := protoPath(p); path == set || strings.HasPrefix(path, set+".") || strings.HasPrefix(set, path+".") {
					return bad("%s is set by the path on %s %s", set, route.Method, route.Path)
				}
			}
		}
		leaf := fields[len(fields)-1]
		mask := leaf.Message() != nil && leaf.Message().FullName() == "google.protobuf.FieldMask"
		switch {
		case mask:
			joined := strings.Join(values, ",")
			if camel, err := jsonMaskPaths(joined); err != nil {
				return bad("%v", err)
			} else if len(values) > 1 || camel != joined {
				query[name], rewritten = []string{camel}, true
			}
			values = query[name]
		case len(values) > 1 && !leaf.IsList():
			return bad("given %d times; the field holds one value", len(values))
		}
		for _, v := range values {
			if err := checkValue(leaf, v); err != nil {
				return bad("%v", err)
			}
		}
	}
	return query, rewritten, nil
}

// checkBody reads the body, at most maxBytes, and checks that the route
// takes one and that it decodes.
func (h *Handler) checkBody(r *http.Request, route *Route) ([]byte, *refusedError) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, int64(h.maxBytes)))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, refuse(http.StatusTooManyRequests, connect.CodeResourceExhausted, "MESSAGE_TOO_LARGE",
			"the request body is larger than %d bytes", h.maxBytes)
	case err != nil:
		return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest, "reading the body: %v", err)
	case len(bytes.TrimSpace(body)) == 0:
		return nil, nil
	case route.Body == "":
		return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
			"%s %s takes no body: its fields come from the path and the query", route.Method, route.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, params, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" ||
			params["charset"] != "" && !strings.EqualFold(params["charset"], "utf-8") {
			return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
				"Content-Type %q: REST routes take application/json", ct)
		}
	}
	target := route.input
	prefix := ""
	if route.Body != "*" {
		fields, err := resolve(route.input, route.Body)
		if err != nil || fields[len(fields)-1].Message() == nil || fields[len(fields)-1].IsList() || fields[len(fields)-1].IsMap() {
			return body, nil // a repeated or scalar body: the transcoder's own decoding
		}
		target, prefix = fields[len(fields)-1].Message(), route.Body
	}
	err = h.codec.Unmarshal(body, dynamicpb.NewMessage(target))
	var verr *validate.Error
	switch {
	case errors.As(err, &verr):
		if prefix != "" {
			verr = verr.Prefix(prefix)
		}
		e := refuse(http.StatusBadRequest, connect.CodeInvalidArgument, validationFailed, "%s", verr.Error())
		e.details = append(e.details, verr.BadRequest())
		return nil, e
	case err != nil:
		return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest, "the body: %v", err)
	}
	return body, nil
}

// resolve finds the fields of a dotted path of proto or JSON names.
func resolve(msg protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	var fields []protoreflect.FieldDescriptor
	for _, name := range strings.Split(path, ".") {
		if msg == nil {
			return nil, fmt.Errorf("%s is not a field of %s", path, fieldsOwner(fields))
		}
		f := msg.Fields().ByJSONName(name)
		if f == nil {
			f = msg.Fields().ByName(protoreflect.Name(name))
		}
		if f == nil {
			return nil, fmt.Errorf("no field %q in %s", name, msg.FullName())
		}
		fields = append(fields, f)
		msg = f.Message()
		if f.IsMap() {
			msg = nil
		}
	}
	return fields, nil
}

func fieldsOwner(fields []protoreflect.FieldDescriptor) string {
	if len(fields) == 0 {
		return "the request"
	}
	return string(fields[len(fields)-1].FullName())
}

func protoPath(fields []protoreflect.FieldDescriptor) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = string(f.Name())
	}
	return strings.Join(names, ".")
}

// checkValue checks that a path or query value is one of field's type,
// through protojson, as the transcoder reads it: numbers and booleans as
// written, enums by name or number, messages only where JSON maps them to
// a scalar (Timestamp, Duration, FieldMask, wrappers).
func checkValue(field protoreflect.FieldDescriptor, value string) error {
	var literal string
	switch field.Kind() {
	case protoreflect.BoolKind:
		literal = value
	case protoreflect.EnumKind:
		literal = strconv.Quote(value)
		if _, err := strconv.ParseInt(value, 10, 32); err == nil {
			literal = value
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if !scalarJSON[field.Message().FullName()] {
			return fmt.Errorf("%s is a message: set its fields one by one", field.Name())
		}
		literal = strconv.Quote(value)
		if strings.HasSuffix(string(field.Message().FullName()), "Value") && field.Message().FullName() != "google.protobuf.StringValue" &&
			field.Message().FullName() != "google.protobuf.BytesValue" {
			literal = value // numbers and booleans, as written
		}
	default:
		literal = strconv.Quote(value)
	}
	if field.IsMap() {
		return fmt.Errorf("%s is a map: it cannot come from the path or the query", field.Name())
	}
	if field.IsList() {
		literal = "[" + literal + "]"
	}
	holder := dynamicpb.NewMessage(field.ContainingMessage())
	err := protojson.Unmarshal([]byte(`{"`+field.JSONName()+`":`+literal+`}`), holder)
	if err != nil {
		return fmt.Errorf("%q is not a value of %s: %s", value, field.Name(), kindName(field))
	}
	return nil
}

// scalarJSON are the messages whose JSON form is one scalar.
var scalarJSON = map[protoreflect.FullName]bool{
	"google.protobuf.Timestamp": true, "google.protobuf.Duration": true, "google.protobuf.FieldMask": true,
	"google.protobuf.DoubleValue": true, "google.protobuf.FloatValue": true, "google.protobuf.Int64Value": true,
	"google.protobuf.UInt64Value": true, "google.protobuf.Int32Value": true, "google.protobuf.UInt32Value": true,
	"google.protobuf.BoolValue": true, "google.protobuf.StringValue": true, "google.protobuf.BytesValue": true,
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

// jsonMaskPaths writes a FieldMask's comma-separated paths in the JSON
// names the transcoder reads: update_mask=name,age_years is name,ageYears.
// A path that is not snake_case or lowerCamelCase is refused rather than
// guessed at.
func jsonMaskPaths(paths string) (string, error) {
	out := strings.Split(paths, ",")
	for i, p := range out {
		for _, name := range strings.Split(p, ".") {
			if !maskName(name) {
				return "", fmt.Errorf("%q is not a field path (lowercase names, as in the proto or the JSON)", p)
			}
		}
		var b strings.Builder
		upper := false
		for _, c := range p {
			switch {
			case c == '_':
				upper = true
				continue
			case upper:
				c = []rune(strings.ToUpper(string(c)))[0]
			}
			upper = false
			b.WriteRune(c)
		}
		out[i] = b.String()
	}
	return strings.Join(out, ","), nil
}

// maskName is one element of a FieldMask path: a lowercase letter, then
// letters and digits, each underscore followed by a lowercase letter or a
// digit.
func maskName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_' && i+1 < len(s) && (s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= '0' && s[i+1] <= '9'):
		default:
			return false
		}
	}
	return true
}
