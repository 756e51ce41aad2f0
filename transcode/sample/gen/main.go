// Command gen compiles the library sample's .proto files into the binary
// FileDescriptorSet embedded by package sample. Run it from the module root
// after editing testdata/proto:
//
//	go run ./transcode/sample/gen
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/bouncer-proxy/bouncer/transcode/internal/protoc"
)

func main() {
	dir := flag.String("proto", "testdata/proto", "import root of the .proto files")
	out := flag.String("out", "transcode/sample/library.protoset", "where to write the FileDescriptorSet")
	flag.Parse()
	files := flag.Args()
	if len(files) == 0 {
		files = []string{"bouncer/library/v1/library.proto"}
	}
	if err := run(*dir, *out, files); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir, out string, files []string) error {
	_, fdps, err := protoc.Compile(context.Background(), dir, files...)
	if err != nil {
		return err
	}
	b, err := protoc.MarshalSet(fdps)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("write protoset: %w", err)
	}
	return nil
}
