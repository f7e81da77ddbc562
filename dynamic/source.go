package dynamic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect/v2"
	"connectrpc.com/grpcreflect/v2"
	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
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

// fileSet accumulates file descriptors and resolves names across them.
type fileSet struct {
	mu     sync.Mutex
	protos map[string]*descriptorpb.FileDescriptorProto
	files  *protoregistry.Files
}

func newFileSet() *fileSet {
	return &fileSet{protos: make(map[string]*descriptorpb.FileDescriptorProto), files: new(protoregistry.Files)}
}

// add merges fdps and rebuilds the registry; it reports the names of files
// still missing (dependencies nobody has supplied yet).
func (s *fileSet) add(fdps ...*descriptorpb.FileDescriptorProto) (missing []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range fdps {
		s.protos[f.GetName()] = f
	}
	for _, f := range s.protos {
		for _, dep := range f.GetDependency() {
			if _, ok := s.protos[dep]; !ok && !slices.Contains(missing, dep) {
				if _, err := protoregistry.GlobalFiles.FindFileByPath(dep); err != nil {
					missing = append(missing, dep)
				}
			}
		}
	}
	if len(missing) > 0 {
		return missing, nil
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, f := range s.protos {
		set.File = append(set.File, f)
	}
	files, err := protodesc.FileOptions{AllowUnresolvable: true}.NewFiles(withWellKnown(set))
	if err != nil {
		return nil, fmt.Errorf("descriptors do not link: %w", err)
	}
	s.files = files
	return nil, nil
}

// withWellKnown adds the files of the global registry that set depends on
// but does not carry (well-known types, google.rpc, …).
func withWellKnown(set *descriptorpb.FileDescriptorSet) *descriptorpb.FileDescriptorSet {
	have := map[string]bool{}
	for _, f := range set.File {
		have[f.GetName()] = true
	}
	var add func(name string)
	add = func(name string) {
		if have[name] {
			return
		}
		fd, err := protoregistry.GlobalFiles.FindFileByPath(name)
		if err != nil {
			return
		}
		have[name] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).Path())
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range slices.Clone(set.File) {
		for _, dep := range f.GetDependency() {
			add(dep)
		}
	}
	return set
}

func (s *fileSet) registry() *protoregistry.Files {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files
}

func (s *fileSet) find(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := s.registry().FindDescriptorByName(name)
	if errors.Is(err, protoregistry.NotFound) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return d, err
}

func (s *fileSet) services() []protoreflect.FullName {
	var names []protoreflect.FullName
	s.registry().RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			names = append(names, fd.Services().Get(i).FullName())
		}
		return true
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// FileSource serves descriptors from files: protoset files
// (FileDescriptorSet, as `buf build -o x.binpb` or `protoc
// --descriptor_set_out` write) and .proto sources compiled with protocompile.
type FileSource struct{ set *fileSet }

// NewFileSource loads protosets and compiles protoFiles, resolved against
// importPaths (the working directory when empty); any may be empty.
func NewFileSource(ctx context.Context, protosets, protoFiles, importPaths []string) (*FileSource, error) {
	set := newFileSet()
	var all []*descriptorpb.FileDescriptorProto
	for _, path := range protosets {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read protoset: %w", err)
		}
		var fds descriptorpb.FileDescriptorSet
		if err := proto.Unmarshal(data, &fds); err != nil {
			return nil, fmt.Errorf("%s is not a FileDescriptorSet: %w", path, err)
		}
		all = append(all, fds.GetFile()...)
	}
	if len(protoFiles) > 0 {
		compiler := protocompile.Compiler{
			Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: importPaths}),
		}
		files, err := compiler.Compile(ctx, protoFiles...)
		if err != nil {
			return nil, fmt.Errorf("compile .proto files: %w", err)
		}
		for _, f := range files {
			all = append(all, protodesc.ToFileDescriptorProto(f))
			imports := f.Imports()
			for i := range imports.Len() {
				all = append(all, protodesc.ToFileDescriptorProto(imports.Get(i).FileDescriptor))
			}
		}
	}
	missing, err := set.add(all...)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the descriptors import files they do not include: %v", missing)
	}
	return &FileSource{set: set}, nil
}

// ListServices implements Source.
func (s *FileSource) ListServices(context.Context) ([]protoreflect.FullName, error) {
	return s.set.services(), nil
}

// FindDescriptor implements Source.
func (s *FileSource) FindDescriptor(_ context.Context, name protoreflect.FullName) (protoreflect.Descriptor, error) {
	return s.set.find(name)
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
