package grpcsvc

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// reflectionView answers the reflection service from the server's current
// generation, so that a Swap shows at once. Descriptors not in the
// generation (the reflection protocol's own files) come from
// protoregistry.GlobalFiles.
type reflectionView struct{ s *Server }

var (
	_ reflection.ServiceInfoProvider = reflectionView{}
	_ protodesc.Resolver             = reflectionView{}
	_ reflection.ExtensionResolver   = reflectionView{}
)

// GetServiceInfo lists the services that have a handler, and the
// reflection services. Only the names are meaningful.
func (v reflectionView) GetServiceInfo() map[string]grpc.ServiceInfo {
	gen := v.s.cur.Load()
	out := make(map[string]grpc.ServiceInfo, len(gen.services)+len(v.s.reflection))
	for _, name := range gen.services {
		out[name] = grpc.ServiceInfo{}
	}
	for _, name := range v.s.reflection {
		out[name] = grpc.ServiceInfo{}
	}
	return out
}

func (v reflectionView) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	fd, err := v.s.cur.Load().files.FindFileByPath(path)
	if err == nil {
		return fd, nil
	}
	return protoregistry.GlobalFiles.FindFileByPath(path)
}

func (v reflectionView) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	d, err := v.s.cur.Load().files.FindDescriptorByName(name)
	if err == nil {
		return d, nil
	}
	return protoregistry.GlobalFiles.FindDescriptorByName(name)
}

func (v reflectionView) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	xt, ok := v.s.cur.Load().exts.byName[name]
	if !ok {
		return nil, fmt.Errorf("grpcsvc: extension %s: %w", name, protoregistry.NotFound)
	}
	return xt, nil
}

func (v reflectionView) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	xt, ok := v.s.cur.Load().exts.byMessage[message][field]
	if !ok {
		return nil, fmt.Errorf("grpcsvc: extension %d of %s: %w", field, message, protoregistry.NotFound)
	}
	return xt, nil
}

func (v reflectionView) RangeExtensionsByMessage(message protoreflect.FullName, f func(protoreflect.ExtensionType) bool) {
	for _, xt := range v.s.cur.Load().exts.byMessage[message] {
		if !f(xt) {
			return
		}
	}
}

// extensionIndex holds every extension declared in a registry.
type extensionIndex struct {
	byName    map[protoreflect.FullName]protoreflect.ExtensionType
	byMessage map[protoreflect.FullName]map[protoreflect.FieldNumber]protoreflect.ExtensionType
}

// indexExtensions collects the top-level and nested extensions of files.
func indexExtensions(files *protoregistry.Files) *extensionIndex {
	x := &extensionIndex{
		byName:    map[protoreflect.FullName]protoreflect.ExtensionType{},
		byMessage: map[protoreflect.FullName]map[protoreflect.FieldNumber]protoreflect.ExtensionType{},
	}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		x.addExtensions(fd.Extensions())
		x.addMessages(fd.Messages())
		return true
	})
	return x
}

func (x *extensionIndex) addMessages(mds protoreflect.MessageDescriptors) {
	for i := range mds.Len() {
		x.addExtensions(mds.Get(i).Extensions())
		x.addMessages(mds.Get(i).Messages())
	}
}

func (x *extensionIndex) addExtensions(xds protoreflect.ExtensionDescriptors) {
	for i := range xds.Len() {
		xd := xds.Get(i)
		xt := dynamicpb.NewExtensionType(xd)
		x.byName[xd.FullName()] = xt
		target := xd.ContainingMessage().FullName()
		if x.byMessage[target] == nil {
			x.byMessage[target] = map[protoreflect.FieldNumber]protoreflect.ExtensionType{}
		}
		x.byMessage[target][xd.Number()] = xt
	}
}
