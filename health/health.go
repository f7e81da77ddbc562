// Package health serves gRPC health checking (grpc.health.v1.Health: Check
// and Watch) on connect-go v2, and holds the statuses: the server's (service
// "") and each service's. The kit sets them as its lifecycle goes (SERVING
// once listening, NOT_SERVING while the database cannot write and from the
// start of shutdown); applications may set their own services'.
//
// connectrpc.com/grpchealth has no v2 build, and gRPC-Go's grpc_health_v1
// would make google.golang.org/grpc a runtime dependency. The kit therefore
// keeps a copy of the health messages under a renamed proto package
// (switchboardext.grpc.health.v1, see proto/switchboardext), which cannot
// clash with gRPC-Go's registration when both are linked, and serves them
// under the standard procedure names. The Spec schema is a descriptor built
// here under the real name grpc.health.v1, so reflection lists and describes
// grpc.health.v1.Health exactly as clients expect (grpcreflect resolves that
// file from its own embedded copy, or from gRPC-Go's when it is linked).
//
// What it must not do: decide a status itself, or require credentials
// (auth keeps health public).
package health

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"connectrpc.com/connect/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	healthv1 "github.com/switchboardkit/switchboard/gen/switchboardext/grpc/health/v1"
	"github.com/switchboardkit/switchboard/internal/callctx"
)

// ServiceName is the fully-qualified name of the gRPC health service.
const ServiceName = "grpc.health.v1.Health"

// Status is the serving status of the server or of one service.
type Status = healthv1.HealthCheckResponse_ServingStatus

// Serving statuses, as defined by grpc.health.v1.
const (
	Unknown    = healthv1.HealthCheckResponse_UNKNOWN
	Serving    = healthv1.HealthCheckResponse_SERVING
	NotServing = healthv1.HealthCheckResponse_NOT_SERVING
)

// Server holds the status of the server (key "") and of each service, and
// wakes Watch streams on every change. It starts NOT_SERVING.
type Server struct {
	mu       sync.Mutex
	statuses map[string]Status
	watchers map[string]map[chan Status]struct{}
}

// New returns a Server whose status is NOT_SERVING.
func New() *Server {
	return &Server{
		statuses: map[string]Status{"": NotServing},
		watchers: make(map[string]map[chan Status]struct{}),
	}
}

// Set records status for service and notifies its watchers. A watcher that
// has not read the previous update gets only the newest one.
func (h *Server) Set(service string, status Status) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.statuses[service]; ok && old == status {
		return
	}
	h.statuses[service] = status
	for ch := range h.watchers[service] {
		select {
		case <-ch:
		default:
		}
		ch <- status
	}
}

// SetAll sets the server and every service it knows to status.
func (h *Server) SetAll(status Status) {
	h.mu.Lock()
	services := make([]string, 0, len(h.statuses))
	for s := range h.statuses {
		services = append(services, s)
	}
	h.mu.Unlock()
	for _, s := range services {
		h.Set(s, status)
	}
}

// Get returns the status of service, and whether it is known.
func (h *Server) Get(service string) (Status, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	status, ok := h.statuses[service]
	return status, ok
}

// watch subscribes to service; the channel first carries the current status
// (SERVICE_UNKNOWN for a service the server does not know).
func (h *Server) watch(service string) (<-chan Status, func()) {
	ch := make(chan Status, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.watchers[service] == nil {
		h.watchers[service] = make(map[chan Status]struct{})
	}
	h.watchers[service][ch] = struct{}{}
	status, ok := h.statuses[service]
	if !ok {
		status = healthv1.HealthCheckResponse_SERVICE_UNKNOWN
	}
	ch <- status
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.watchers[service], ch)
	}
}

func (h *Server) check(_ context.Context, _ connect.Spec, stream connect.ServerStream) error {
	var req healthv1.HealthCheckRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	status, ok := h.Get(req.GetService())
	if !ok {
		return connect.Errorf(connect.CodeNotFound, "unknown service %q", req.GetService())
	}
	return stream.Send(&healthv1.HealthCheckResponse{Status: status})
}

// watchStream streams status changes until the call ends or the server
// drains; the NOT_SERVING update of a shutdown is sent before the stream ends.
func (h *Server) watchStream(ctx context.Context, _ connect.Spec, stream connect.ServerStream) error {
	var req healthv1.HealthCheckRequest
	if err := stream.Receive(&req); err != nil {
		return err
	}
	updates, stop := h.watch(req.GetService())
	defer stop()
	drain := callctx.Drain(ctx)
	for {
		select {
		case status := <-updates:
			if err := stream.Send(&healthv1.HealthCheckResponse{Status: status}); err != nil {
				return err
			}
		case <-drain:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Register adds Check and Watch to server under grpc.health.v1.Health.
func (h *Server) Register(server *connect.Server) error {
	service, err := healthDescriptor()
	if err != nil {
		return err
	}
	methods := service.Methods()
	server.Register(
		connect.Method{
			Spec: connect.Spec{
				StreamType: connect.StreamTypeUnary,
				Procedure:  "/" + ServiceName + "/Check",
				Schema:     methods.ByName("Check"),
			},
			Handler: h.check,
		},
		connect.Method{
			Spec: connect.Spec{
				StreamType: connect.StreamTypeServer,
				Procedure:  "/" + ServiceName + "/Watch",
				Schema:     methods.ByName("Watch"),
			},
			Handler: h.watchStream,
		},
	)
	return nil
}

// healthDescriptor builds grpc.health.v1.Health from the renamed copy of the
// messages, in a private registry so it never clashes with another
// registration of the same file.
var healthDescriptor = sync.OnceValues(func() (protoreflect.ServiceDescriptor, error) {
	const ext = "switchboardext."
	file := protodesc.ToFileDescriptorProto(healthv1.File_switchboardext_grpc_health_v1_health_proto)
	file.Name = proto.String("grpc/health/v1/health.proto")
	file.Package = proto.String(strings.TrimPrefix(file.GetPackage(), ext))
	for _, msg := range file.MessageType {
		for _, field := range msg.Field {
			if field.TypeName != nil {
				field.TypeName = proto.String("." + strings.TrimPrefix(field.GetTypeName(), "."+ext))
			}
		}
	}
	file.Service = []*descriptorpb.ServiceDescriptorProto{{
		Name: proto.String("Health"),
		Method: []*descriptorpb.MethodDescriptorProto{
			{
				Name:       proto.String("Check"),
				InputType:  proto.String(".grpc.health.v1.HealthCheckRequest"),
				OutputType: proto.String(".grpc.health.v1.HealthCheckResponse"),
			},
			{
				Name:            proto.String("Watch"),
				InputType:       proto.String(".grpc.health.v1.HealthCheckRequest"),
				OutputType:      proto.String(".grpc.health.v1.HealthCheckResponse"),
				ServerStreaming: proto.Bool(true),
			},
		},
	}}
	fd, err := protodesc.NewFile(file, new(protoregistry.Files))
	if err != nil {
		return nil, fmt.Errorf("health: build descriptor: %w", err)
	}
	return fd.Services().ByName("Health"), nil
})
