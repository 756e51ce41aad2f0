// Command protodeps writes the imports of the library sample's .proto files
// that protoc cannot find on its own (google/api/*, buf/validate/*: every
// file but the sample's own and google/protobuf/*, which protobuf-compiler
// ships in /usr/include) as a FileDescriptorSet for protoc's
// --descriptor_set_in. They are taken from the descriptors embedded in
// package sample, so no googleapis or protovalidate checkout is needed.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

func main() {
	out := flag.String("out", "deps.pb", "FileDescriptorSet to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "protodeps:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	files, err := sample.Files()
	if err != nil {
		return err
	}
	set := &descriptorpb.FileDescriptorSet{}
	files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		p := f.Path()
		if !strings.HasPrefix(p, "bouncer/") && !strings.HasPrefix(p, "google/protobuf/") {
			set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
		}
		return true
	})
	b, err := proto.Marshal(set)
	if err != nil {
		return fmt.Errorf("marshal: %w", err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
