package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync/atomic"

	connectv1 "connectrpc.com/connect"
	"connectrpc.com/connect/v2"
	"connectrpc.com/vanguard"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/switchboardkit/switchboard/interceptors/errmap"
	"github.com/switchboardkit/switchboard/internal/callctx"
	"github.com/switchboardkit/switchboard/internal/rpcerr"
	"github.com/switchboardkit/switchboard/validate"
)

const (
	errorDomain      = rpcerr.Domain
	validationFailed = errmap.ReasonValidationFailed
)

// Config bounds what the REST layer holds of one call.
type Config struct {
	// MaxRequestBytes is the largest request body taken on a REST route
	// (the Connect handler's own limit applies after it). REST bodies are
	// read whole before the call, so there is always a bound: ≤ 0 means
	// 4 MiB.
	MaxRequestBytes int
	// MaxResponseBytes is the largest response message the transcoder
	// holds while turning it into JSON; ≤ 0: no bound of its own (the
	// handler has built the message in memory already).
	MaxResponseBytes int
}

// Handler serves REST routes in front of next, the handler the Connect
// services are mounted on.
type Handler struct {
	next       http.Handler
	transcoder *vanguard.Transcoder // nil: no service declares a route
	procedures map[string]bool      // Connect procedure paths: never transcoded
	routes     []Route
	maxBytes   int
}

// New builds the REST routes of every method of rpc that declares one, each
// calling its Connect procedure through next. next also serves every
// request that is not on a REST route. New fails on a route the transcoder
// cannot serve (a bad template, a variable or body that names no field, two
// methods on one route), so a mistake
// in a proto stops the server at start, not at the first call.
func New(rpc *connect.Server, next http.Handler, cfg Config) (*Handler, error) {
	h := &Handler{next: next, procedures: map[string]bool{}, maxBytes: cfg.MaxRequestBytes}
	if h.maxBytes <= 0 {
		h.maxBytes = 4 << 20
	}
	// The transcoder has one bound for the messages it holds, both ways:
	// request bodies are bounded as it reads them (limitedBody), so it is
	// the responses'.
	var buffer uint32 = math.MaxUint32
	if cfg.MaxResponseBytes > 0 {
		buffer = uint32(min(int64(max(cfg.MaxResponseBytes, h.maxBytes)), math.MaxUint32))
	}
	var services []protoreflect.ServiceDescriptor
	requests := map[protoreflect.FullName]bool{} // every method's request type
	for spec := range rpc.Specs() {
		h.procedures[spec.Procedure] = true
		method, ok := spec.Schema.(protoreflect.MethodDescriptor)
		if !ok {
			continue
		}
		requests[method.Input().FullName()] = true
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
	var vs []*vanguard.Service
	guarded := guard{next}
	for _, sd := range services {
		vs = append(vs, vanguard.NewServiceWithSchema(sd, guarded,
			// What the kit's handler receives: Connect, binary protobuf,
			// uncompressed — the cheapest form for it to read.
			vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithNoTargetCompression(),
			vanguard.WithMaxMessageBufferBytes(buffer),
		))
	}
	bodies := bodyFields(h.routes, requests)
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

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.transcoder == nil || h.procedures[r.URL.Path] {
		h.next.ServeHTTP(w, r) // Connect, gRPC, gRPC-Web: not the transcoder's
		return
	}
	route, parts := match(h.routes, r.Method, r.URL.Path)
	if route == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	watch := &watchWriter{ResponseWriter: w}
	ctx := context.WithValue(callctx.WithREST(r.Context(),
		&callctx.REST{Method: r.Method, Route: route.Path, Procedure: route.Procedure}), watchKey{}, watch)
	checked, refusal := h.check(r.WithContext(ctx), route, parts)
	if refusal != nil {
		writeStatus(w, refusal)
		return
	}
	h.transcoder.ServeHTTP(watch, checked)
}

// watchWriter notes that the transcoder has begun to answer the client.
type watchWriter struct {
	http.ResponseWriter
	answered atomic.Bool
}

type watchKey struct{}

func (w *watchWriter) WriteHeader(code int) {
	w.answered.Store(true)
	w.ResponseWriter.WriteHeader(code)
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.answered.Store(true)
	return w.ResponseWriter.Write(p)
}

func (w *watchWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *watchWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// guard is the handler the transcoder calls. When the transcoder cannot
// turn the client's body into the request — it does so while the handler
// reads — it answers the client with the error and hands the handler an
// empty body, which the handler would take for an empty request and act
// on. guard turns that empty end into an error, so the call fails as the
// client was told instead of running on nothing.
type guard struct{ next http.Handler }

func (g guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if watch, ok := r.Context().Value(watchKey{}).(*watchWriter); ok && r.Body != nil {
		r.Body = guardedBody{ReadCloser: r.Body, watch: watch}
	}
	g.next.ServeHTTP(w, r)
}

type guardedBody struct {
	io.ReadCloser
	watch *watchWriter
}

func (b guardedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && b.watch.answered.Load() {
		return n, connect.NewError(connect.CodeInvalidArgument, "the REST request was refused before the call (the client has its error)")
	}
	return n, err
}

// writeStatus answers a refused request as every REST error is answered:
// the HTTP status and a google.rpc.Status body.
func writeStatus(w http.ResponseWriter, e *refusedError) {
	st := &status.Status{Code: int32(e.code), Message: e.message}
	for _, d := range e.details {
		if a, err := anypb.New(d); err == nil {
			st.Details = append(st.Details, a)
		}
	}
	body, err := protojson.Marshal(st)
	if err != nil {
		http.Error(w, e.message, e.status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// bodyFields maps the message type of every route body that fills one
// message field of its request to that field's name — unless the type is
// also a whole request, or the body of another field name, when a
// violation's path cannot be told from the type alone and stays as it is.
// The transcoder decodes such a body into the field's message directly.
func bodyFields(routes []Route, requests map[protoreflect.FullName]bool) map[protoreflect.FullName]string {
	bodies := map[protoreflect.FullName]string{}
	ambiguous := map[protoreflect.FullName]bool{}
	for _, r := range routes {
		field := r.fields[r.Body]
		if field == nil || field.Message() == nil || field.IsList() || field.IsMap() || requests[field.Message().FullName()] {
			continue
		}
		t := field.Message().FullName()
		if name, seen := bodies[t]; seen && name != r.Body {
			ambiguous[t] = true
		}
		bodies[t] = r.Body
	}
	for t := range ambiguous {
		delete(bodies, t)
	}
	return bodies
}

// bodyCodec is vanguard's JSON codec for REST bodies and responses, except
// that it decodes as the kit's Connect JSON codec does: unknown fields are
// ignored, but an enum name the enum does not define is refused with the
// field's path (pet.species) instead of being dropped (which would turn
// "species": "CAT " into no species at all). Its errors are connect-go v1
// errors, INVALID_ARGUMENT with the kit's details, because that is what
// vanguard renders.
type bodyCodec struct {
	*vanguard.JSONCodec
	strict *validate.JSONCodec
	bodies map[protoreflect.FullName]string
}

// Unmarshal implements vanguard.Codec.
func (c bodyCodec) Unmarshal(data []byte, msg proto.Message) error {
	err := c.strict.Unmarshal(data, msg)
	var verr *validate.Error
	if field, ok := c.bodies[msg.ProtoReflect().Descriptor().FullName()]; ok && errors.As(err, &verr) {
		err = verr.Prefix(field)
	}
	return asInvalid(err)
}

// UnmarshalField implements vanguard.RESTCodec, for bodies that fill a
// repeated or scalar field.
func (c bodyCodec) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	return asInvalid(c.JSONCodec.UnmarshalField(data, msg, field))
}

func asInvalid(err error) error {
	if err == nil {
		return nil
	}
	info := &errdetails.ErrorInfo{Reason: ReasonInvalidRESTRequest, Domain: errorDomain}
	details := []proto.Message{info}
	message := "the body: " + err.Error()
	var verr *validate.Error
	if errors.As(err, &verr) {
		info.Reason, message = validationFailed, verr.Error()
		details = append(details, verr.BadRequest())
	}
	out := connectv1.NewError(connectv1.CodeInvalidArgument, errors.New(message))
	for _, d := range details {
		if detail, derr := connectv1.NewErrorDetail(d); derr == nil {
			out.AddDetail(detail)
		}
	}
	return out
}
