package transcode_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/bouncer-proxy/bouncer/transcode"
	"github.com/bouncer-proxy/bouncer/transcode/descriptors"
	"github.com/bouncer-proxy/bouncer/transcode/grpcsvc"
	"github.com/bouncer-proxy/bouncer/transcode/sample"
)

// withExtraMethod returns the sample's files with one more method on the
// Library service: Ping(CountBooksRequest) returns (CountBooksResponse),
// bound to GET /v1/ping.
func withExtraMethod(t *testing.T) *protoregistry.Files {
	t.Helper()
	return withMethod(t, &descriptorpb.MethodDescriptorProto{Name: proto.String("Ping"),
		InputType: proto.String(".bouncer.library.v1.CountBooksRequest"), OutputType: proto.String(".bouncer.library.v1.CountBooksResponse")}, "/v1/ping")
}

// withMethod returns the sample's files with md added to the Library
// service, bound to GET get.
func withMethod(t *testing.T, md *descriptorpb.MethodDescriptorProto, get string) *protoregistry.Files {
	t.Helper()
	files, err := sample.Files()
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName(sample.ServiceName)
	if err != nil {
		t.Fatal(err)
	}
	fdp := protodesc.ToFileDescriptorProto(d.ParentFile())
	md.Options = &descriptorpb.MethodOptions{}
	proto.SetExtension(md.Options, annotations.E_Http, &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: get}})
	for _, sd := range fdp.Service {
		if sd.GetName() == "Library" {
			sd.Method = append(sd.Method, md)
		}
	}
	var out protoregistry.Files
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if fd.Path() != fdp.GetName() {
			_ = out.RegisterFile(fd)
		}
		return true
	})
	nfd, err := protodesc.NewFile(fdp, &out)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.RegisterFile(nfd); err != nil {
		t.Fatal(err)
	}
	return &out
}

// A method added to a running service is served after a refresh, with
// the descriptor change swapped in while requests keep coming: none of
// them fails.
func TestNewMethodServedAfterRefreshUnderLoad(t *testing.T) {
	var w *descriptors.Watcher
	f := startFixtureSource(t, "", nil, func(addr string) transcode.Source {
		w = descriptors.NewWatcher(descriptors.WatcherConfig{Endpoints: func() []string { return []string{addr} }, MinInterval: time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		w.Start(context.Background())
		if err := w.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
		return w
	})
	if r := f.do(t, "GET", "/v1/ping", ""); r.Status != 404 {
		t.Fatalf("before: %d %s", r.Status, r.Body)
	}
	var stop atomic.Bool
	var fails, total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 5000 && !stop.Load(); n++ {
				res, err := http.Get(f.URL + "/v1/shelves")
				total.Add(1)
				if err != nil || res.StatusCode != 200 {
					fails.Add(1)
				}
				if res != nil {
					res.Body.Close()
				}
			}
		}()
	}
	handlers := sample.Handlers()
	handlers["/"+sample.ServiceName+"/Ping"] = func(c *grpcsvc.Call) error {
		if _, err := c.Recv(); err != nil {
			return err
		}
		out := dynamicpb.NewMessage(c.Method.Output())
		out.Set(c.Method.Output().Fields().ByName("count"), protoreflect.ValueOfInt64(42))
		return c.Send(out)
	}
	if err := f.svc.Swap(withExtraMethod(t), handlers); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "GET", "/v1/ping", "")
	stop.Store(true)
	wg.Wait()
	if r.Status != 200 || jsonOf(t, r.Body)["count"] != "42" {
		t.Fatalf("after refresh: %d %s", r.Status, r.Body)
	}
	if fails.Load() != 0 || total.Load() == 0 {
		t.Fatalf("%d of %d requests failed during the swap", fails.Load(), total.Load())
	}
}

// A method the upstream no longer knows answers 501 and asks the source
// for fresh descriptors.
func TestUnknownMethodAsksForRefresh(t *testing.T) {
	f := startFixture(t, "")
	files, err := sample.Files()
	if err != nil {
		t.Fatal(err)
	}
	handlers := sample.Handlers()
	delete(handlers, "/"+sample.ServiceName+"/CountBooks")
	if err := f.svc.Swap(files, handlers); err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "POST", "/"+sample.ServiceName+"/CountBooks", `{}`)
	if st := statusOf(t, r); r.Status != 501 || st.Code != 12 {
		t.Fatalf("removed method: %d %s", r.Status, r.Body)
	}
	select {
	case <-f.src.refreshes:
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh was asked for")
	}
}
