package rest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	connectv1 "connectrpc.com/connect"
	"connectrpc.com/connect/v2"
	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/internal/rpcerr"
	"github.com/switchboardkit/switchboard/validate"
)

// Config bounds what the transcoder buffers of one REST call.
type Config struct {
	// MaxMessageBytes is the largest request or response message the
	// transcoder holds while converting it (the Connect handler's own
	// limit applies after it). 0: 4 MiB.
	MaxMessageBytes int
}

// Handler serves REST routes in front of next, the handler the Connect
// services are mounted on.
type Handler struct {
	next       http.Handler
	transcoder *vanguard.Transcoder // nil: no service declares a route
	procedures map[string]bool      // Connect procedure paths: never transcoded
	routes     []Route
}

// New builds the REST routes of every method of rpc that declares one, each
// calling its Connect procedure through next. next also serves every
// request that is not on a REST route. New fails on a route the transcoder
// cannot serve (a bad template, two methods on one route), so a mistake
// in a proto stops the server at start, not at the first call.
func New(rpc *connect.Server, next http.Handler, cfg Config) (*Handler, error) {
	h := &Handler{next: next, procedures: map[string]bool{}}
	var services []protoreflect.ServiceDescriptor
	for spec := range rpc.Specs() {
		h.procedures[spec.Procedure] = true
		method, ok := spec.Schema.(protoreflect.MethodDescriptor)
		if !ok {
			continue
		}
		routes, err := RoutesOf(method)
		if err != nil {
			return nil, err
		}
		h.routes = append(h.routes, routes...)
		if len(routes) > 0 && !slices.Contains(services, method.Parent().(protoreflect.ServiceDescriptor)) {
			services = append(services, method.Parent().(protoreflect.ServiceDescriptor))
		}
	}
	if len(services) == 0 {
		return h, nil
	}
	maxBytes := cfg.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = 4 << 20
	}
	var vs []*vanguard.Service
	for _, sd := range services {
		vs = append(vs, vanguard.NewServiceWithSchema(sd, next,
			// What the kit's handler receives: Connect, binary protobuf,
			// uncompressed — the cheapest form for it to read.
			vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithNoTargetCompression(),
			vanguard.WithMaxMessageBufferBytes(uint32(maxBytes)),
		))
	}
	bodies := bodyFields(h.routes, rpc)
	transcoder, err := vanguard.NewTranscoder(vs,
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			c := vanguard.NewJSONCodec(res)
			// Zero values are written ("ageYears": 0, "tags": []), as REST
			// clients and OpenAPI schemas expect, but an unset message is
			// left out rather than written as null.
			c.MarshalOptions.EmitUnpopulated, c.MarshalOptions.EmitDefaultValues = false, true
			strict := validate.NewJSONCodec()
			strict.UnmarshalOptions = c.UnmarshalOptions
			return bodyCodec{JSONCodec: c, strict: strict, bodies: bodies}
		}),
		vanguard.WithUnknownHandler(next),
	)
	if err != nil {
		return nil, fmt.Errorf("rest: %w", err)
	}
	h.transcoder = transcoder
	return h, nil
}

// bodyFields maps the message type of every route body that fills one
// message field of its request to that field's name — unless the type is
// also a whole request, or the body of another field name, when a
// violation's path cannot be told from the type alone and stays as it is.
func bodyFields(routes []Route, rpc *connect.Server) map[protoreflect.FullName]string {
	requests := map[protoreflect.FullName]bool{}
	for spec := range rpc.Specs() {
		if md, ok := spec.Schema.(protoreflect.MethodDescriptor); ok {
			requests[md.Input().FullName()] = true
		}
	}
	bodies := map[protoreflect.FullName]string{}
	ambiguous := map[protoreflect.FullName]bool{}
	for _, r := range routes {
		if r.bodyType == "" || requests[r.bodyType] {
			continue
		}
		if name, seen := bodies[r.bodyType]; seen && name != r.Body {
			ambiguous[r.bodyType] = true
		}
		bodies[r.bodyType] = r.Body
	}
	for t := range ambiguous {
		delete(bodies, t)
	}
	return bodies
}

// Routes returns every REST route served, in the order of the services'
// methods.
func (h *Handler) Routes() []Route { return slices.Clone(h.routes) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.transcoder == nil || h.procedures[r.URL.Path] {
		h.next.ServeHTTP(w, r) // Connect, gRPC, gRPC-Web: not the transcoder's
		return
	}
	route := h.match(r.Method, r.URL.Path)
	if route == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	ctx := callctx.WithREST(r.Context(), &callctx.REST{Method: route.Method, Route: route.Path, Procedure: route.Procedure})
	r = r.WithContext(ctx)
	if len(route.masks) > 0 && r.URL.RawQuery != "" {
		if q := r.URL.Query(); route.camelMasks(q) {
			u := *r.URL
			u.RawQuery = q.Encode()
			r.URL = &u
		}
	}
	h.transcoder.ServeHTTP(w, r)
}

// match returns the route a request takes, or nil.
func (h *Handler) match(method, path string) *Route {
	for i := range h.routes {
		if h.routes[i].matches(method, path) {
			return &h.routes[i]
		}
	}
	return nil
}

// bodyCodec is vanguard's JSON codec for REST bodies and responses, except
// that it decodes as the kit's Connect JSON codec does: unknown fields are
// ignored, but an enum name the enum does not define is refused with the
// field's path instead of being dropped (which would turn "species": "CAT "
// into no species at all).
type bodyCodec struct {
	*vanguard.JSONCodec
	strict *validate.JSONCodec
	// bodies names, by message type, the request field a route's body
	// fills ("pet" for petstore.v1.Pet): vanguard decodes such a body into
	// the field's message directly, and violations must name the field
	// from the request. Absent: the body is the whole request.
	bodies map[protoreflect.FullName]string
}

// Unmarshal implements vanguard.Codec.
func (c bodyCodec) Unmarshal(data []byte, msg proto.Message) error {
	err := c.strict.Unmarshal(data, msg)
	var verr *validate.Error
	if field, ok := c.bodies[msg.ProtoReflect().Descriptor().FullName()]; ok && errors.As(err, &verr) {
		err = verr.Prefix(field)
	}
	return refusal(err)
}

// UnmarshalField implements vanguard.RESTCodec, for bodies that fill a
// repeated or scalar field.
func (c bodyCodec) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	return refusal(c.JSONCodec.UnmarshalField(data, msg, field))
}

// refusal answers a body the codec cannot take. A validation failure (an
// enum name the enum lacks) is answered as the error interceptor answers
// the same violation on Connect — INVALID_ARGUMENT, a BadRequest naming
// each field, ErrorInfo VALIDATION_FAILED — and anything else (not JSON,
// a wrong type) as INVALID_ARGUMENT with the decoder's message: the client
// sent it. The transcoder refuses these before the call reaches the
// interceptors, so they have no request id and no request-log row
// (docs/rest.md). They are connect-go v1 errors because that is what
// vanguard renders.
func refusal(err error) error {
	if err == nil {
		return nil
	}
	var verr *validate.Error
	if !errors.As(err, &verr) {
		return connectv1.NewError(connectv1.CodeInvalidArgument, err)
	}
	out := connectv1.NewError(connectv1.CodeInvalidArgument, errors.New(verr.Error()))
	for _, detail := range []proto.Message{ // in the error interceptor's order
		&errdetails.ErrorInfo{Reason: errmap.ReasonValidationFailed, Domain: rpcerr.Domain},
		verr.BadRequest(),
	} {
		if d, derr := connectv1.NewErrorDetail(detail); derr == nil {
			out.AddDetail(d)
		}
	}
	return out
}
