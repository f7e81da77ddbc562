package rest

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect/v2"
	"connectrpc.com/connect/v2/connectproto"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
)

// ReasonInvalidRESTRequest is the ErrorInfo reason of a REST request
// refused before its call (a parameter that is not a field, a value of the
// wrong type, a body where the route takes none…).
const ReasonInvalidRESTRequest = "INVALID_REST_REQUEST"

// refusedError is a request the REST layer answers itself, before the
// call.
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

func invalid(format string, args ...any) *refusedError {
	return refuse(http.StatusBadRequest, connect.CodeInvalidArgument, ReasonInvalidRESTRequest, format, args...)
}

// field adds a BadRequest naming the parameter or field at fault.
func (e *refusedError) field(name, description string) *refusedError {
	e.details = append(e.details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: name, Description: description},
	}})
	return e
}

// check is what the REST layer verifies of a request on a route before the
// transcoder sees it: everything it can tell from the headers, the path and
// the query, so that what the transcoder would refuse, read differently
// from the client, or turn into a different call is refused whole, with a
// google.rpc.Status naming the fault. It reads no body: a body is read by
// the transcoder when the handler asks for the request, after
// authentication, through a bound (limitedBody); and if the transcoder
// refuses it, the handler is not given an empty request instead (guard).
//
//   - Content-Encoding: none (a compressed body's size says nothing of its
//     size once decompressed); Content-Type: JSON, written as the
//     transcoder wants it; a body only where the route takes one.
//   - X-Server-Timeout: a number of seconds.
//   - Path variables: not empty, no '%' left once decoded (the transcoder
//     decodes them again), values of their fields' types.
//   - Query parameters: see checkQuery.
//
// It returns the request to hand on (its headers, query and body possibly
// rewritten), or the refusal to answer.
func (h *Handler) check(r *http.Request, route *Route, parts []string) (*http.Request, *refusedError) {
	r.Header = r.Header.Clone() // rewritten below; the caller's stays as sent
	switch enc := r.Header.Values("Content-Encoding"); {
	case len(enc) > 1 || len(enc) == 1 && !strings.EqualFold(strings.TrimSpace(enc[0]), "identity"):
		return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
			"compressed request bodies (Content-Encoding: %s) are not accepted on REST routes", strings.Join(enc, ", "))
	default:
		r.Header.Del("Content-Encoding")
	}
	hasBody := r.ContentLength != 0 // -1: unknown (chunked), so perhaps
	if hasBody && route.Body == "" {
		return nil, invalid("%s %s takes no body: its fields come from the path and the query", route.Method, route.Path)
	}
	switch ct := r.Header.Values("Content-Type"); {
	case len(ct) > 1:
		return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
			"one Content-Type, please (got %d)", len(ct))
	case len(ct) == 1 && hasBody:
		mt, params, err := mime.ParseMediaType(ct[0])
		charset, hasCharset := params["charset"]
		if err != nil || mt != "application/json" || hasCharset && !strings.EqualFold(charset, "utf-8") || len(params) > 1 ||
			len(params) == 1 && !hasCharset {
			return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument, ReasonInvalidRESTRequest,
				"Content-Type %q: REST routes take application/json", ct[0])
		}
		r.Header.Set("Content-Type", "application/json")
	default:
		r.Header.Del("Content-Type") // no body: nothing for it to describe
	}
	if t := r.Header.Get("X-Server-Timeout"); t != "" {
		if s, err := strconv.ParseFloat(t, 64); err != nil || s < 0 || s > 1e9 {
			return nil, invalid("X-Server-Timeout %q is not a number of seconds", t)
		}
	}

	vars := route.variables(parts)
	for name, value := range vars {
		if err := checkPathValue(route, name, value); err != nil {
			return nil, invalid("path %s: %v", name, err).field(name, err.Error())
		}
	}
	query, refusal := checkQuery(r.URL.RawQuery, route)
	if refusal != nil {
		return nil, refusal
	}
	if query != r.URL.RawQuery {
		u := *r.URL
		u.RawQuery = query
		r.URL = &u
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &limitedBody{ReadCloser: r.Body, left: int64(h.maxBytes), max: h.maxBytes}
	}
	return r, nil
}

func checkPathValue(route *Route, name, value string) error {
	switch {
	case value == "":
		return fmt.Errorf("empty")
	case strings.Contains(value, "%"):
		return fmt.Errorf("%q: a '%%' in a path value is read twice on its way: not accepted", value)
	}
	return checkValue(route.fields[name], value)
}

// limitedBody ends a REST body past max bytes with RESOURCE_EXHAUSTED:
// the bound holds however the body is sent (chunked included), and it is
// read only when the handler asks for the request, after authentication.
type limitedBody struct {
	io.ReadCloser
	left int64
	max  int
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	return n, err
}

// tooLarge is RESOURCE_EXHAUSTED, as the Connect handler reports a message
// over its limit: the error reaches the handler, which reads the body
// through the transcoder, and the call fails with it.
func (b *limitedBody) tooLarge() error {
	err := connect.NewError(connect.CodeResourceExhausted, fmt.Sprintf("the request body is larger than %d bytes", b.max))
	if d, derr := connectproto.NewErrorDetail(&errdetails.ErrorInfo{Reason: "MESSAGE_TOO_LARGE", Domain: errorDomain}); derr == nil {
		err = err.WithDetail(d)
	}
	return err
}
