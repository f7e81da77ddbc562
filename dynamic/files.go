package dynamic

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

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
