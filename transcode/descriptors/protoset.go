package descriptors

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxProtosetBytes bounds the file LoadProtoset reads.
const maxProtosetBytes = 256 << 20

// LoadProtoset reads a binary FileDescriptorSet (as written by
// `protoc --include_imports --descriptor_set_out` or `buf build -o`) and
// builds the same Set that Fetch would for a server exposing every service
// in it (but grpc.reflection.* and grpc.health.*). As with Fetch, an import
// missing from the set is tolerated only when the file builds without it;
// a missing type is an error naming the missing imports. A missing file
// error wraps fs.ErrNotExist.
func LoadProtoset(path string) (*Set, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("descriptors: protoset: %w", err)
	}
	if fi.Size() > maxProtosetBytes {
		return nil, fmt.Errorf("descriptors: protoset %s: %d bytes is more than %d", path, fi.Size(), maxProtosetBytes)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("descriptors: protoset: %w", err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &fds); err != nil {
		return nil, fmt.Errorf("descriptors: protoset %s is not a binary FileDescriptorSet: %w", path, err)
	}
	if len(fds.File) == 0 {
		return nil, fmt.Errorf("descriptors: protoset %s holds no files", path)
	}
	seen := make(map[string]bool, len(fds.File))
	for _, fd := range fds.File {
		if seen[fd.GetName()] {
			return nil, fmt.Errorf("descriptors: protoset %s holds file %q twice", path, fd.GetName())
		}
		seen[fd.GetName()] = true
	}
	set, err := build(fds.File, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (protoset %s)", err, path)
	}
	return set, nil
}
