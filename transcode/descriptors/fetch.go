package descriptors

import (
	"context"
	"crypto/tls"
	"fmt"
	"slices"
	"time"

	"github.com/jhump/protoreflect/desc"
	"github.com/jhump/protoreflect/grpcreflect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/descriptorpb"
)

// DefaultTimeout bounds a Fetch whose Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponseBytes caps one reflection response: a file arrives with all
// its imports not sent before, which can exceed gRPC's 4 MiB default.
const maxResponseBytes = 64 << 20

// Options tune how Fetch talks to an upstream.
type Options struct {
	// Metadata is sent as gRPC metadata on the reflection calls (and only
	// there: Fetch uses a connection of its own), for example an
	// authorization header. Keys are lower-cased.
	Metadata map[string]string
	// TLS, when set, is the client TLS configuration; nil means plaintext
	// HTTP/2 (h2c).
	TLS *tls.Config
	// Timeout bounds the whole fetch, connection included (0: DefaultTimeout).
	Timeout time.Duration
}

// Fetch gets the descriptors of the services that the gRPC server at addr
// (host:port) exposes through server reflection: it lists the services,
// skips grpc.reflection.* and grpc.health.*, and resolves the file of each
// with its imports. It opens a new connection and a new reflection client
// on every call and closes both before returning, so each call sees the
// server as it is now. Reflection v1 is tried first, then v1alpha.
//
// An import the server cannot supply is tolerated when the file builds
// without it (it only carried options); otherwise Fetch fails. Fetch blocks
// until done, ctx is cancelled or o.Timeout elapses.
func Fetch(ctx context.Context, addr string, o Options) (*Set, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(o.Metadata) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, metadata.New(o.Metadata))
	}
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)))
	if err != nil {
		return nil, fmt.Errorf("descriptors: fetch from %s: %w", addr, err)
	}
	defer cc.Close()
	client := grpcreflect.NewClientAuto(ctx, cc)
	defer client.Reset()
	client.AllowMissingFileDescriptors()

	fdps, services, err := resolveAll(client)
	if err != nil {
		return nil, fmt.Errorf("descriptors: fetch from %s: %w", addr, err)
	}
	set, err := build(fdps, services)
	if err != nil {
		return nil, fmt.Errorf("%w (from %s)", err, addr)
	}
	return set, nil
}

// resolveAll lists the exposed services and returns the files they need
// (each once) and their sorted names.
func resolveAll(client *grpcreflect.Client) ([]*descriptorpb.FileDescriptorProto, []string, error) {
	listed, err := client.ListServices()
	if err != nil {
		return nil, nil, fmt.Errorf("list services: %w", err)
	}
	services := make([]string, 0, len(listed))
	for _, name := range listed {
		if !skipped(name) {
			services = append(services, name)
		}
	}
	slices.Sort(services)
	services = slices.Compact(services)

	seen := map[string]bool{}
	var fdps []*descriptorpb.FileDescriptorProto
	var add func(fd *desc.FileDescriptor)
	add = func(fd *desc.FileDescriptor) {
		if seen[fd.GetName()] {
			return
		}
		seen[fd.GetName()] = true
		fdps = append(fdps, fd.AsFileDescriptorProto())
		for _, dep := range fd.GetDependencies() {
			add(dep)
		}
	}
	for _, name := range services {
		sd, err := client.ResolveService(name)
		if err != nil {
			return nil, nil, fmt.Errorf("resolve service %s: %w", name, err)
		}
		add(sd.GetFile())
	}
	return fdps, services, nil
}
