package rest

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"

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
	codec      *validate.JSONCodec // decodes REST bodies, here and in the transcoder
}

// New builds the REST routes of every method of rpc that declares one, each
// calling its Connect procedure through next. next also serves every
// request that is not on a REST route. New fails on a route the transcoder
// cannot serve (a bad template, two methods on one route), so a mistake
// in a proto stops the server at start, not at the first call.
func New(rpc *connect.Server, next http.Handler, cfg Config) (*Handler, error) {
	h := &Handler{next: next, procedures: map[string]bool{}, maxBytes: cfg.MaxRequestBytes, codec: validate.NewJSONCodec()}
	if h.maxBytes <= 0 {
		h.maxBytes = 4 << 20
	}
	// The transcoder has one bound for the messages it holds, both ways:
	// requests are bounded before it (check.go), so it is the response's.
	var buffer uint32 = math.MaxUint32
	if cfg.MaxResponseBytes > 0 {
		buffer = uint32(min(int64(max(cfg.MaxResponseBytes, h.maxBytes)), math.MaxUint32))
	}
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
	var vs []*vanguard.Service
	for _, sd := range services {
		vs = append(vs, vanguard.NewServiceWithSchema(sd, next,
			// What the kit's handler receives: Connect, binary protobuf,
			// uncompressed — the cheapest form for it to read.
			vanguard.WithTargetProtocols(vanguard.ProtocolConnect),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithNoTargetCompression(),
			vanguard.WithMaxMessageBufferBytes(buffer),
		))
	}
	transcoder, err := vanguard.NewTranscoder(vs,
		vanguard.WithCodec(func(res vanguard.TypeResolver) vanguard.Codec {
			c := vanguard.NewJSONCodec(res)
			// Zero values are written ("ageYears": 0, "tags": []), as REST
			// clients and OpenAPI schemas expect, but an unset message is
			// left out rather than written as null.
			c.MarshalOptions.EmitUnpopulated, c.MarshalOptions.EmitDefaultValues = false, true
			strict := validate.NewJSONCodec()
			strict.UnmarshalOptions = c.UnmarshalOptions
			return bodyCodec{JSONCodec: c, strict: strict}
		}),
		vanguard.WithUnknownHandler(next),
	)
	if err != nil {
		return nil, fmt.Errorf("rest: %w", err)
	}
	h.transcoder = transcoder
	return h, nil
}

// Routes returns every REST route served, in the order of the services'
// methods.
func (h *Handler) Routes() []Route { return slices.Clone(h.routes) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.transcoder == nil || h.procedures[r.URL.Path] {
		h.next.ServeHTTP(w, r) // Connect, gRPC, gRPC-Web: not the transcoder's
		return
	}
	route := match(h.routes, r.Method, r.URL.Path)
	if route == nil {
		h.next.ServeHTTP(w, r)
		return
	}
	parts, _, _ := split(r.URL.Path)
	checked, refusal := h.check(r.WithContext(callctx.WithREST(r.Context(),
		&callctx.REST{Method: r.Method, Route: route.Path, Procedure: route.Procedure})), route, parts)
	if refusal != nil {
		writeStatus(w, refusal)
		return
	}
	h.transcoder.ServeHTTP(w, checked)
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

// bodyCodec is vanguard's JSON codec for REST bodies and responses, except
// that it decodes as the kit's Connect JSON codec does: unknown fields are
// ignored, but an enum name the enum does not define is refused instead of
// being dropped (which would turn "species": "CAT " into no species at
// all). The REST layer has checked the body with the same codec before
// the transcoder reads it (check.go), so a refusal here is a safety net:
// it answers INVALID_ARGUMENT, as a v1 error because that is what vanguard
// renders.
type bodyCodec struct {
	*vanguard.JSONCodec
	strict *validate.JSONCodec
}

// Unmarshal implements vanguard.Codec.
func (c bodyCodec) Unmarshal(data []byte, msg proto.Message) error {
	return asInvalid(c.strict.Unmarshal(data, msg))
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
	out := connectv1.NewError(connectv1.CodeInvalidArgument, err)
	info := &errdetails.ErrorInfo{Reason: ReasonInvalidRESTRequest, Domain: errorDomain}
	var verr *validate.Error
	if errors.As(err, &verr) {
		info.Reason = validationFailed
	}
	if d, derr := connectv1.NewErrorDetail(info); derr == nil {
		out.AddDetail(d)
	}
	return out
}
