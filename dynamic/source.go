package dynamic

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/grpcreflect/v2"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Source finds service descriptors.
type Source interface {
	// ListServices returns the fully-qualified names of the services, sorted.
	ListServices(ctx context.Context) ([]protoreflect.FullName, error)
	// FindDescriptor resolves a fully-qualified name: a service, method,
	// message, enum or field.
	FindDescriptor(ctx context.Context, name protoreflect.FullName) (protoreflect.Descriptor, error)
}

// ErrNotFound is returned for a symbol no source knows.
var ErrNotFound = errors.New("not found")

// ReflectionError says why reflection could not be used.
type ReflectionError struct {
	// Kind is "missing" (the server has no reflection service), "refused"
	// (authentication or permission), or "unreachable".
	Kind string
	Err  error
}

func (e *ReflectionError) Error() string {
	switch e.Kind {
	case "missing":
		return "the server does not offer gRPC reflection (neither v1 nor v1alpha); describe it with --protoset or --proto instead"
	case "refused":
		if connect.CodeOf(e.Err) == connect.CodePermissionDenied {
			return fmt.Sprintf("the server refused reflection to these credentials (%v); use a key whose scopes include reflection (grpc.reflection.*/*), or describe the server with --proto or --protoset", e.Err)
		}
		return fmt.Sprintf("the server refused reflection (%v); send credentials, e.g. --api-key or -H 'Authorization: Bearer …'", e.Err)
	default:
		return fmt.Sprintf("cannot reach the server for reflection: %v", e.Err)
	}
}

func (e *ReflectionError) Unwrap() error { return e.Err }

func reflectionError(err error) error {
	var cerr *connect.Error
	switch connect.CodeOf(err) {
	case connect.CodeUnimplemented:
		return &ReflectionError{Kind: "missing", Err: err}
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return &ReflectionError{Kind: "refused", Err: err}
	}
	if errors.As(err, &cerr) && cerr.IsRemote() {
		return err
	}
	return &ReflectionError{Kind: "unreachable", Err: err}
}

// ReflectionSource asks the server through gRPC reflection, v1 first and
// v1alpha when v1 is unimplemented. What it learns is cached for TTL; after
// that, the next lookup opens a fresh reflection stream.
type ReflectionSource struct {
	client *grpcreflect.Client
	ttl    time.Duration

	mu       sync.Mutex
	set      *fileSet
	services []protoreflect.FullName
	fetched  time.Time
}

// NewReflectionSource uses client (whose transport must speak HTTP/2:
// reflection is a bidi stream).
func NewReflectionSource(client *connect.Client, ttl time.Duration) *ReflectionSource {
	return &ReflectionSource{client: grpcreflect.NewClient(client), ttl: ttl, set: newFileSet()}
}

func (r *ReflectionSource) fresh() {
	if r.ttl > 0 && time.Since(r.fetched) > r.ttl {
		r.set, r.services, r.fetched = newFileSet(), nil, time.Now()
	}
}

// ListServices implements Source.
func (r *ReflectionSource) ListServices(ctx context.Context) ([]protoreflect.FullName, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fresh()
	if r.services != nil {
		return r.services, nil
	}
	stream := r.client.NewStream(ctx)
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		return nil, reflectionError(err)
	}
	slices.Sort(names)
	r.services, r.fetched = names, time.Now()
	return names, nil
}

// FindDescriptor implements Source.
func (r *ReflectionSource) FindDescriptor(ctx context.Context, name protoreflect.FullName) (protoreflect.Descriptor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fresh()
	if d, err := r.set.find(name); err == nil {
		return d, nil
	}
	stream := r.client.NewStream(ctx)
	defer stream.Close()
	// A field or method is not a symbol reflection knows: ask for its parent.
	symbol := name
	fdps, err := stream.FileContainingSymbol(symbol)
	if connect.CodeOf(err) == connect.CodeNotFound && name.Parent() != "" {
		symbol = name.Parent()
		fdps, err = stream.FileContainingSymbol(symbol)
	}
	if connect.CodeOf(err) == connect.CodeNotFound {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, reflectionError(err)
	}
	for range 32 { // fetch missing dependencies, bounded
		missing, err := r.set.add(fdps...)
		if err != nil {
			return nil, err
		}
		if len(missing) == 0 {
			break
		}
		fdps = nil
		for _, dep := range missing {
			more, err := stream.FileByFilename(dep)
			if err != nil {
				return nil, reflectionError(err)
			}
			fdps = append(fdps, more...)
		}
	}
	r.fetched = time.Now()
	return r.set.find(name)
}

// registries returns the file registries a source has loaded so far.
func registries(src Source) []*protoregistry.Files {
	switch s := src.(type) {
	case *FileSource:
		return []*protoregistry.Files{s.set.registry()}
	case *ReflectionSource:
		s.mu.Lock()
		defer s.mu.Unlock()
		return []*protoregistry.Files{s.set.registry()}
	case Sources:
		var out []*protoregistry.Files
		for _, inner := range s {
			out = append(out, registries(inner)...)
		}
		return out
	}
	return nil
}

// typeResolver resolves message and extension types from what the sources
// loaded, then from the types linked into this binary (google.rpc.*, the
// well-known types), for Any fields and error details.
type typeResolver struct{ regs []*protoregistry.Files }

func newTypeResolver(src Source) *typeResolver { return &typeResolver{regs: registries(src)} }

func (r *typeResolver) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	for _, reg := range r.regs {
		if d, err := reg.FindDescriptorByName(name); err == nil {
			if md, ok := d.(protoreflect.MessageDescriptor); ok {
				return dynamicpb.NewMessageType(md), nil
			}
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (r *typeResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	name := url
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		name = url[i+1:]
	}
	return r.FindMessageByName(protoreflect.FullName(name))
}

func (r *typeResolver) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	for _, reg := range r.regs {
		if xt, err := dynamicpb.NewTypes(reg).FindExtensionByName(name); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (r *typeResolver) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	for _, reg := range r.regs {
		if xt, err := dynamicpb.NewTypes(reg).FindExtensionByNumber(message, field); err == nil {
			return xt, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}

// Sources tries each source in turn: the first that knows a name answers.
type Sources []Source

// ListServices implements Source: the union of every source's services.
func (s Sources) ListServices(ctx context.Context) ([]protoreflect.FullName, error) {
	var all []protoreflect.FullName
	var errs []error
	for _, src := range s {
		names, err := src.ListServices(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, names...)
	}
	if len(all) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// FindDescriptor implements Source.
func (s Sources) FindDescriptor(ctx context.Context, name protoreflect.FullName) (protoreflect.Descriptor, error) {
	var errs []error
	for _, src := range s {
		d, err := src.FindDescriptor(ctx, name)
		if err == nil {
			return d, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
