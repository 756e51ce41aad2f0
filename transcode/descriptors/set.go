// Package descriptors gets the protobuf descriptors of a gRPC upstream at
// run time, through gRPC server reflection (Fetch) or from a binary
// FileDescriptorSet file (LoadProtoset), and keeps them fresh (Watcher).
//
// Every source yields the same immutable value, a Set: the files, dynamic
// types for protojson, the exposed services and a digest that tells two
// versions of the same schema apart.
package descriptors

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Set is one version of an upstream's schema. It is immutable once built
// and safe for concurrent use; a newer version is a new Set.
type Set struct {
	// Files holds every file the services need, with their imports.
	Files *protoregistry.Files
	// Types has a dynamic message type for every message, and a dynamic
	// extension type for every extension, declared in Files (enums too).
	// Give it to protojson as the resolver so that Any values and error
	// details resolve against the upstream's schema rather than whatever
	// happens to be linked into the binary.
	Types *protoregistry.Types
	// Services are the exposed services sorted by full name, without the
	// grpc.reflection.* and grpc.health.* services.
	Services []protoreflect.ServiceDescriptor
	// Digest is the hex SHA-256 of the deterministic encoding of a
	// FileDescriptorSet holding the files sorted by name: equal schemas
	// give equal digests within one build of Bouncer.
	Digest string
}

// skipped reports whether a service is infrastructure that is never
// exposed: reflection itself and health checking.
func skipped(service string) bool {
	return strings.HasPrefix(service, "grpc.reflection.") || strings.HasPrefix(service, "grpc.health.")
}

// build makes a Set from file descriptor protos (each file once, in any
// order). services names the exposed services; nil means every service
// declared in the files. Imports missing from fdps are dropped before the
// build, so a file whose missing import only carried options still builds,
// and one that needs a type from it fails with an error naming the import.
//
// The files are encoded once (for the digest) and decoded again with the
// global type registry as resolver, so option extensions linked into the
// binary (google.api.http, buf.validate) become typed values that
// proto.GetExtension reads, whatever decoded the files first.
func build(fdps []*descriptorpb.FileDescriptorProto, services []string) (*Set, error) {
	fdps, missing := dropMissingImports(fdps)
	slices.SortFunc(fdps, func(a, b *descriptorpb.FileDescriptorProto) int {
		return strings.Compare(a.GetName(), b.GetName())
	})
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: fdps})
	if err != nil {
		return nil, fmt.Errorf("descriptors: encode files: %w", err)
	}
	sum := sha256.Sum256(raw)
	var fds descriptorpb.FileDescriptorSet
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(raw, &fds); err != nil {
		return nil, fmt.Errorf("descriptors: decode files: %w", err)
	}
	files, err := protodesc.NewFiles(&fds)
	if err != nil {
		if len(missing) > 0 {
			return nil, fmt.Errorf("descriptors: %w (missing imports: %s)", err, strings.Join(missing, ", "))
		}
		return nil, fmt.Errorf("descriptors: %w", err)
	}
	set := &Set{Files: files, Types: new(protoregistry.Types), Digest: hex.EncodeToString(sum[:])}
	if err := set.fill(services); err != nil {
		return nil, err
	}
	return set, nil
}

// dropMissingImports returns fdps where every file importing a file that
// is not in fdps is replaced by a copy without that import, and the sorted
// names of the missing files.
func dropMissingImports(fdps []*descriptorpb.FileDescriptorProto) ([]*descriptorpb.FileDescriptorProto, []string) {
	have := make(map[string]bool, len(fdps))
	for _, fd := range fdps {
		have[fd.GetName()] = true
	}
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(fdps))
	var missing []string
	for _, fd := range fdps {
		var gone []int
		for i, dep := range fd.GetDependency() {
			if !have[dep] {
				gone = append(gone, i)
				missing = append(missing, dep)
			}
		}
		if len(gone) > 0 {
			fd = withoutImports(fd, gone)
		}
		out = append(out, fd)
	}
	slices.Sort(missing)
	return out, slices.Compact(missing)
}

// withoutImports copies fd without the imports at the indexes gone
// (ascending), renumbering its public and weak import indexes.
func withoutImports(fd *descriptorpb.FileDescriptorProto, gone []int) *descriptorpb.FileDescriptorProto {
	fd = proto.CloneOf(fd)
	renum := make(map[int32]int32, len(fd.Dependency))
	var deps []string
	for i, dep := range fd.Dependency {
		if slices.Contains(gone, i) {
			continue
		}
		renum[int32(i)] = int32(len(deps))
		deps = append(deps, dep)
	}
	remap := func(idx []int32) []int32 {
		var out []int32
		for _, i := range idx {
			if n, ok := renum[i]; ok {
				out = append(out, n)
			}
		}
		return out
	}
	fd.Dependency = deps
	fd.PublicDependency = remap(fd.PublicDependency)
	fd.WeakDependency = remap(fd.WeakDependency)
	return fd
}

// fill registers the dynamic types of every file and collects the
// services (all of them when names is nil).
func (s *Set) fill(names []string) error {
	var err error
	s.Files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		err = registerTypes(s.Types, fd.Messages(), fd.Enums(), fd.Extensions())
		if err != nil {
			err = fmt.Errorf("descriptors: file %q: %w", fd.Path(), err)
			return false
		}
		if names == nil {
			for i := 0; i < fd.Services().Len(); i++ {
				if sd := fd.Services().Get(i); !skipped(string(sd.FullName())) {
					s.Services = append(s.Services, sd)
				}
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		d, err := s.Files.FindDescriptorByName(protoreflect.FullName(name))
		sd, ok := d.(protoreflect.ServiceDescriptor)
		if err != nil || !ok {
			return fmt.Errorf("descriptors: service %q is not in the files", name)
		}
		s.Services = append(s.Services, sd)
	}
	slices.SortFunc(s.Services, func(a, b protoreflect.ServiceDescriptor) int {
		return strings.Compare(string(a.FullName()), string(b.FullName()))
	})
	return nil
}

// registerTypes registers dynamic types for the given messages (and their
// nested declarations), enums and extensions.
func registerTypes(t *protoregistry.Types, msgs protoreflect.MessageDescriptors,
	enums protoreflect.EnumDescriptors, exts protoreflect.ExtensionDescriptors) error {
	for i := 0; i < enums.Len(); i++ {
		if err := t.RegisterEnum(dynamicpb.NewEnumType(enums.Get(i))); err != nil {
			return err
		}
	}
	for i := 0; i < exts.Len(); i++ {
		if err := t.RegisterExtension(dynamicpb.NewExtensionType(exts.Get(i))); err != nil {
			return err
		}
	}
	for i := 0; i < msgs.Len(); i++ {
		md := msgs.Get(i)
		if !md.IsMapEntry() {
			if err := t.RegisterMessage(dynamicpb.NewMessageType(md)); err != nil {
				return err
			}
		}
		if err := registerTypes(t, md.Messages(), md.Enums(), md.Extensions()); err != nil {
			return err
		}
	}
	return nil
}
