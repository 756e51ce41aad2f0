// Package protoc compiles .proto source files into descriptors, for tests and
// generators (never on the request path). It wraps protocompile with the
// imports Bouncer's protos need: the standard google/protobuf files, and the
// google/api and google/rpc files whose Go packages are linked into Bouncer.
package protoc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Register the google/api, google/rpc and buf/validate files in
	// protoregistry.GlobalFiles, where the resolver below finds them.
	_ "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	_ "google.golang.org/genproto/googleapis/api/annotations"
	_ "google.golang.org/genproto/googleapis/api/httpbody"
	_ "google.golang.org/genproto/googleapis/rpc/code"
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	_ "google.golang.org/genproto/googleapis/rpc/status"
)

// Compile parses and links files (paths relative to dir, as they are
// imported) with source info (comments and positions) kept.
//
// An import is looked up under dir first; then google/protobuf/*.proto are
// protocompile's standard imports, and google/api/*.proto and
// google/rpc/*.proto come from the descriptors registered by the genproto Go
// packages (annotations, http, httpbody, field_behavior, status,
// error_details, code, and their own dependencies).
//
// It answers a registry holding the files and all their transitive
// dependencies, and the same files as FileDescriptorProtos in dependency
// order (every file after its imports), ready to be written as a
// FileDescriptorSet. Custom options (google.api.http, field_behavior) are
// typed extensions in both, so proto.GetExtension works on them.
// Compile is safe for concurrent use; errors name the file, line and column.
func Compile(ctx context.Context, dir string, files ...string) (*protoregistry.Files, []*descriptorpb.FileDescriptorProto, error) {
	if len(files) == 0 {
		return nil, nil, errors.New("protoc: no files to compile")
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(protocompile.CompositeResolver{
			&protocompile.SourceResolver{ImportPaths: []string{dir}},
			protocompile.ResolverFunc(findGoogleAPI),
		}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, nil, fmt.Errorf("protoc: %w", err)
	}
	fdps, err := closure(linked)
	if err != nil {
		return nil, nil, err
	}
	reg, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: fdps})
	if err != nil {
		return nil, nil, fmt.Errorf("protoc: build registry: %w", err)
	}
	return reg, fdps, nil
}

// findGoogleAPI resolves google/api, google/rpc and buf/validate imports
// from the descriptors linked into this binary.
func findGoogleAPI(path string) (protocompile.SearchResult, error) {
	if !strings.HasPrefix(path, "google/api/") && !strings.HasPrefix(path, "google/rpc/") && !strings.HasPrefix(path, "buf/validate/") {
		return protocompile.SearchResult{}, fmt.Errorf("protoc: %s: %w", path, protoregistry.NotFound)
	}
	fd, err := protoregistry.GlobalFiles.FindFileByPath(path)
	if err != nil {
		return protocompile.SearchResult{}, fmt.Errorf("protoc: %s: %w", path, err)
	}
	return protocompile.SearchResult{Desc: fd}, nil
}

// closure answers the linked files and their transitive imports as
// normalised FileDescriptorProtos, every file after its imports.
func closure(linked linker.Files) ([]*descriptorpb.FileDescriptorProto, error) {
	var out []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var visit func(fd protoreflect.FileDescriptor) error
	visit = func(fd protoreflect.FileDescriptor) error {
		if seen[fd.Path()] {
			return nil
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			if err := visit(imports.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		fdp, err := normalise(fd)
		if err != nil {
			return err
		}
		out = append(out, fdp)
		return nil
	}
	for _, f := range linked {
		if err := visit(f); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// normalise converts fd to a FileDescriptorProto whose options hold typed
// extensions: protocompile may represent custom options with dynamic
// messages, so the proto is re-decoded against the generated types.
func normalise(fd protoreflect.FileDescriptor) (*descriptorpb.FileDescriptorProto, error) {
	var fdp *descriptorpb.FileDescriptorProto
	if r, ok := fd.(linker.Result); ok {
		fdp = r.FileDescriptorProto()
	} else {
		fdp = protodesc.ToFileDescriptorProto(fd)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(fdp)
	if err != nil {
		return nil, fmt.Errorf("protoc: encode %s: %w", fd.Path(), err)
	}
	out := &descriptorpb.FileDescriptorProto{}
	if err := (proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes}).Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("protoc: decode %s: %w", fd.Path(), err)
	}
	return out, nil
}

// MarshalSet encodes fdps as a FileDescriptorSet (a "protoset"),
// deterministically, so that equal inputs give equal bytes.
func MarshalSet(fdps []*descriptorpb.FileDescriptorProto) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&descriptorpb.FileDescriptorSet{File: fdps})
	if err != nil {
		return nil, fmt.Errorf("protoc: encode descriptor set: %w", err)
	}
	return b, nil
}
