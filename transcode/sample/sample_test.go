package sample

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bouncer-proxy/bouncer/transcode/internal/protoc"
)

func TestProtosetInSync(t *testing.T) {
	_, fdps, err := protoc.Compile(context.Background(), "../../testdata/proto", "bouncer/library/v1/library.proto")
	if err != nil {
		t.Fatal(err)
	}
	want, err := protoc.MarshalSet(fdps)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(protoset, want) {
		t.Fatal("library.protoset differs from testdata/proto: run `go run ./transcode/sample/gen`")
	}
}

func TestHandlersCoverService(t *testing.T) {
	d, err := mustFiles(t).FindDescriptorByName(ServiceName)
	if err != nil {
		t.Fatal(err)
	}
	methods := d.(protoreflect.ServiceDescriptor).Methods()
	handlers := Handlers()
	if len(handlers) != methods.Len() {
		t.Errorf("%d handlers for %d methods", len(handlers), methods.Len())
	}
	for i := range methods.Len() {
		m := methods.Get(i)
		if handlers["/"+ServiceName+"/"+string(m.Name())] == nil {
			t.Errorf("no handler for %s", m.Name())
		}
		// Every method is annotated but CountBooks, the automatic-route case.
		annotated := proto.HasExtension(m.Options(), annotations.E_Http)
		if annotated != (m.Name() != "CountBooks") {
			t.Errorf("%s: google.api.http present = %v", m.Name(), annotated)
		}
	}
}

func TestReflection(t *testing.T) {
	c := startClient(t)
	st, err := rpb.NewServerReflectionClient(c.conn).ServerReflectionInfo(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.CloseSend()
	if err := st.Send(&rpb.ServerReflectionRequest{
		MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"},
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, ServiceName) {
		t.Fatalf("reflection lists %q, want %s among them", names, ServiceName)
	}
}

// detail names the type of a status detail a case expects.
type detail string

// everything sets every field kind of Everything.
const everything = `{"doubleField": 1.5, "floatField": -2.25, "int32Field": -3, "int64Field": "-9007199254740993",
		"uint32Field": 4, "uint64Field": "18446744073709551615", "sint32Field": -5, "sint64Field": "-6",
		"fixed32Field": 7, "fixed64Field": "8", "sfixed32Field": -9, "sfixed64Field": "-10", "boolField": true,
		"stringField": "s", "bytesField": "AAEC", "genre": "POETRY", "label": "shown", "maybe": 0,
		"nested": {"note": "n", "count": "2", "genres": ["FICTION"]}, "int64List": ["1", "-2"],
		"stringList": ["a"], "labels": {"k": "v"}, "nestedById": {"7": {"note": "seven"}},
		"choiceNumber": "12", "timestamp": "2024-02-29T12:00:00.5Z", "duration": "1.5s",
		"fieldMask": "title,pageCount", "struct": {"a": [1, "x", null]}, "value": {"b": true},
		"listValue": [1, {}], "any": {"@type": "type.googleapis.com/bouncer.library.v1.Shelf", "name": "shelves/1"},
		"empty": {}, "nullValue": null, "doubleWrapper": 0, "int64Wrapper": "5", "boolWrapper": false,
		"stringWrapper": "", "bytesWrapper": "", "timestampList": ["1970-01-01T00:00:00Z"]}`

// unaryCases run against the seed data and change nothing.
var unaryCases = []struct {
	method, req, want string
	code              codes.Code
	details           []detail
}{
	{"ListShelves", `{}`, `{"shelves": [{"name": "shelves/1", "theme": "Fiction", "bookCount": "2"},
		{"name": "shelves/2", "theme": "Science", "bookCount": "1"}]}`, codes.OK, nil},
	{"GetShelf", `{"name": "shelves/2"}`, `{"name": "shelves/2", "theme": "Science", "bookCount": "1"}`, codes.OK, nil},
	{"GetShelf", `{"name": "shelves/9"}`, ``, codes.NotFound, []detail{"ResourceInfo"}},
	{"DeleteShelf", `{"name": "shelves/1"}`, ``, codes.FailedPrecondition, []detail{"PreconditionFailure"}},
	{"CreateShelf", `{"shelf": {}}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"ListBooks", `{"parent": "shelves/2"}`, `{"books": [{"name": "shelves/2/books/3", "title": "A Brief History of Time",
		"author": "Stephen Hawking", "genre": "SCIENCE", "tags": ["physics"], "pageCount": "256"}], "totalSize": "1"}`, codes.OK, nil},
	{"ListBooks", `{"tags": ["classic"], "genre": "POETRY"}`, titles("Leaves of Grass"), codes.OK, nil},
	{"ListBooks", `{"filter": {"author": "frank herbert"}}`, titles("Dune"), codes.OK, nil},
	{"ListBooks", `{"filter": {"minPages": "200"}, "parent": "shelves/1"}`, titles("Dune"), codes.OK, nil},
	{"ListBooks", `{"filter": {"publishedAfter": "1900-01-01T00:00:00Z"}}`, titles("Dune"), codes.OK, nil},
	{"ListBooks", `{"parent": "shelves/7"}`, ``, codes.NotFound, []detail{"ResourceInfo"}},
	{"ListBooks", `{"pageToken": "x"}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"GetBook", `{"name": "shelves/1/books/2"}`, `{"name": "shelves/1/books/2", "title": "Leaves of Grass",
		"author": "Walt Whitman", "genre": "POETRY", "tags": ["classic"], "pageCount": "145", "published": true,
		"publishTime": "1855-07-04T00:00:00Z"}`, codes.OK, nil},
	{"GetBook", `{"name": "shelves/1/books/3"}`, ``, codes.NotFound, []detail{"ResourceInfo"}},
	{"GetBook", `{"name": "books/3"}`, ``, codes.NotFound, []detail{"ResourceInfo"}},
	{"CreateBook", `{"parent": "shelves/1", "book": {"author": "x"}}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"CreateBook", `{"parent": "shelves/1", "book": {"title": "t"}, "bookId": "Bad Id"}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"UpdateBook", `{"book": {"name": "shelves/1/books/1"}, "updateMask": "published"}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"DownloadFile", `{"path": "docs/readme.txt"}`, `{"contentType": "text/plain; charset=utf-8", "data": "V2VsY29tZSB0byB0aGUgQm91bmNlciBzYW1wbGUgbGlicmFyeS4K"}`, codes.OK, nil},
	{"DownloadFile", `{"path": "docs/../x"}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"DownloadFile", `{"path": "absent"}`, ``, codes.NotFound, []detail{"ResourceInfo"}},
	{"EchoRaw", `{"contentType": "text/csv", "data": "YSxi"}`, `{"contentType": "text/csv", "data": "YSxi"}`, codes.OK, nil},
	{"Echo", everything, everything, codes.OK, nil},
	{"Fail", `{"code": 99, "message": "boom", "details": true}`, ``, codes.Code(99), []detail{"BadRequest", "ErrorInfo"}},
	{"Fail", `{"code": 5}`, ``, codes.NotFound, nil},
	{"Fail", `{"code": -1}`, ``, codes.InvalidArgument, []detail{"BadRequest"}},
	{"Fail", `{}`, `{}`, codes.OK, nil},
	{"CountBooks", `{}`, `{"count": "3"}`, codes.OK, nil},
	{"CountBooks", `{"parent": "shelves/1"}`, `{"count": "2"}`, codes.OK, nil},
}

func TestUnary(t *testing.T) {
	c := startClient(t)
	for i, tc := range unaryCases {
		t.Run(fmt.Sprintf("%d %s", i, tc.method), func(t *testing.T) {
			got, err := c.unary(tc.method, tc.req)
			checkStatus(t, err, tc.code, tc.details)
			if tc.code == codes.OK {
				if want := c.decode(c.method(tc.method).Output(), tc.want); !proto.Equal(got, want) {
					t.Fatalf("got %v\nwant %v", got, want)
				}
			}
		})
	}
}

// titles answers a ListBooksResponse JSON holding seed books by title.
func titles(title string) string {
	switch title {
	case "Dune":
		return `{"books": [{"name": "shelves/1/books/1", "title": "Dune", "author": "Frank Herbert", "genre": "FICTION",
			"tags": ["classic", "space"], "pageCount": "412", "published": true, "publishTime": "1965-08-01T00:00:00Z",
			"labels": {"language": "en"}}], "totalSize": "1"}`
	default:
		return `{"books": [{"name": "shelves/1/books/2", "title": "Leaves of Grass", "author": "Walt Whitman",
			"genre": "POETRY", "tags": ["classic"], "pageCount": "145", "published": true,
			"publishTime": "1855-07-04T00:00:00Z"}], "totalSize": "1"}`
	}
}

// checkStatus checks the code of err and the types of its details.
func checkStatus(t *testing.T, err error, code codes.Code, details []detail) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != code {
		t.Fatalf("status %v, want code %v", st, code)
	}
	var got []detail
	for _, d := range st.Details() {
		switch d.(type) {
		case *errdetails.BadRequest:
			got = append(got, "BadRequest")
		case *errdetails.ErrorInfo:
			got = append(got, "ErrorInfo")
		case *errdetails.ResourceInfo:
			got = append(got, "ResourceInfo")
		case *errdetails.PreconditionFailure:
			got = append(got, "PreconditionFailure")
		default:
			t.Fatalf("unexpected detail %v", d)
		}
	}
	if !slices.Equal(got, details) {
		t.Fatalf("details %q, want %q", got, details)
	}
}

func TestEchoMetadata(t *testing.T) {
	c := startClient(t)
	c.ctx = metadata.AppendToOutgoingContext(c.ctx, "x-echo-color", "blue", "x-other", "no")
	var header, trailer metadata.MD
	if _, err := c.unary("Echo", `{}`, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-echo-color"); !slices.Equal(got, []string{"blue"}) {
		t.Errorf("header x-echo-color = %q", got)
	}
	if got := header.Get("x-other"); got != nil {
		t.Errorf("header x-other = %q, want none", got)
	}
	if got := trailer.Get("x-echo-trailer"); !slices.Equal(got, []string{"done"}) {
		t.Errorf("trailer x-echo-trailer = %q", got)
	}
}
