package sample

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// TestLifecycle runs mutating calls in order on one fresh library.
func TestLifecycle(t *testing.T) {
	c := startClient(t)
	steps := []struct {
		method, req, want string
		code              codes.Code
	}{
		{"CreateShelf", `{"shelf": {"theme": "History", "bookCount": "9"}}`, `{"name": "shelves/3", "theme": "History"}`, codes.OK},
		{"CreateBook", `{"parent": "shelves/3", "book": {"title": "SPQR", "author": "Mary Beard", "published": true}}`,
			`{"name": "shelves/3/books/4", "title": "SPQR", "author": "Mary Beard"}`, codes.OK},
		{"CreateBook", `{"parent": "shelves/3", "bookId": "my-book", "book": {"title": "Mine"}}`,
			`{"name": "shelves/3/books/my-book", "title": "Mine"}`, codes.OK},
		{"CreateBook", `{"parent": "shelves/3", "bookId": "my-book", "book": {"title": "Again"}}`, ``, codes.AlreadyExists},
		{"CreateBook", `{"parent": "shelves/8", "book": {"title": "Lost"}}`, ``, codes.NotFound},
		{"UpdateBook", `{"book": {"name": "shelves/3/books/4", "title": "SPQR 2", "author": "Z"}, "updateMask": "title"}`,
			`{"name": "shelves/3/books/4", "title": "SPQR 2", "author": "Mary Beard"}`, codes.OK},
		{"UpdateBook", `{"book": {"name": "shelves/3/books/4", "pageCount": "600", "published": true}}`,
			`{"name": "shelves/3/books/4", "title": "SPQR 2", "author": "Mary Beard", "pageCount": "600"}`, codes.OK},
		{"UpdateBook", `{"book": {"name": "shelves/3/books/4"}, "updateMask": "author"}`,
			`{"name": "shelves/3/books/4", "title": "SPQR 2", "pageCount": "600"}`, codes.OK},
		{"UpdateBook", `{"book": {"name": "shelves/3/books/99"}, "updateMask": "author"}`, ``, codes.NotFound},
		{"PublishBook", `{"name": "shelves/3/books/4", "publishTime": "2015-10-20T00:00:00Z"}`,
			`{"name": "shelves/3/books/4", "title": "SPQR 2", "pageCount": "600", "published": true,
			  "publishTime": "2015-10-20T00:00:00Z"}`, codes.OK},
		{"GetShelf", `{"name": "shelves/3"}`, `{"name": "shelves/3", "theme": "History", "bookCount": "2"}`, codes.OK},
		{"DeleteBook", `{"name": "shelves/3/books/4"}`, `{}`, codes.OK},
		{"DeleteBook", `{"name": "shelves/3/books/4"}`, ``, codes.NotFound},
		{"DeleteBook", `{"name": "shelves/3/books/my-book"}`, `{}`, codes.OK},
		{"DeleteShelf", `{"name": "shelves/3"}`, `{}`, codes.OK},
		{"GetShelf", `{"name": "shelves/3"}`, ``, codes.NotFound},
		{"CreateBook", `{"parent": "shelves/2", "book": {"title": "Next"}}`, `{"name": "shelves/2/books/5", "title": "Next"}`, codes.OK},
		{"UploadFile", `{"path": "img/a.png", "file": {"contentType": "image/png", "data": "iVBORw=="}}`,
			`{"path": "img/a.png", "contentType": "image/png", "size": "4"}`, codes.OK},
		{"DownloadFile", `{"path": "img/a.png"}`, `{"contentType": "image/png", "data": "iVBORw=="}`, codes.OK},
		{"UploadFile", `{"path": "raw"}`, `{"path": "raw", "contentType": "application/octet-stream"}`, codes.OK},
		{"UploadFile", `{"path": "/abs"}`, ``, codes.InvalidArgument},
	}
	for i, s := range steps {
		got, err := c.unary(s.method, s.req)
		if code := status.Code(err); code != s.code {
			t.Fatalf("step %d %s: err %v, want code %v", i, s.method, err, s.code)
		}
		if s.code != codes.OK {
			continue
		}
		if want := c.decode(c.method(s.method).Output(), s.want); !proto.Equal(got, want) {
			t.Fatalf("step %d %s: got %v\nwant %v", i, s.method, got, want)
		}
	}
}

func TestStreams(t *testing.T) {
	c := startClient(t)
	cases := []struct {
		name, method string
		reqs         []string
		want         []string // a substring of each response's JSON, in order
		code         codes.Code
	}{
		{"server streaming", "StreamBooks", []string{`{"parent": "shelves/1"}`}, []string{`"Dune"`, `"Leaves of Grass"`}, codes.OK},
		{"server streaming, paged", "StreamBooks", []string{`{"pageSize": 1, "pageToken": "2"}`}, []string{`"A Brief History of Time"`}, codes.OK},
		{"server streaming, unknown shelf", "StreamBooks", []string{`{"parent": "shelves/5"}`}, nil, codes.NotFound},
		{"watch", "Watch", []string{`{"name": "shelves/1"}`}, []string{`"sequence":"1"`, `"sequence":"2"`}, codes.OK},
		{"watch, limited", "Watch", []string{`{"name": "shelves/1", "maxEvents": 1}`}, []string{`"kind":"ADDED"`}, codes.OK},
		{"watch, unknown shelf", "Watch", []string{`{"name": "shelves/5"}`}, nil, codes.NotFound},
		{"client streaming", "CreateBooks", []string{
			`{"parent": "shelves/2", "book": {"title": "One"}}`, `{"parent": "shelves/2", "book": {"title": "Two"}}`,
		}, []string{`"shelves/2/books/5"`}, codes.OK},
		{"client streaming, nothing sent", "CreateBooks", nil, []string{`{}`}, codes.OK},
		{"client streaming, bad request", "CreateBooks", []string{
			`{"parent": "shelves/2", "book": {"title": "Three"}}`, `{"parent": "shelves/2", "book": {}}`,
		}, nil, codes.InvalidArgument},
		{"bidi", "Chat", []string{`{"user": "ann", "text": "hi"}`, `{"text": "bye"}`}, []string{`"echo: hi"`, `"echo: bye"`}, codes.OK},
		{"bidi, empty text", "Chat", []string{`{"user": "ann"}`}, nil, codes.InvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.stream(tc.method, tc.reqs...)
			if code := status.Code(err); code != tc.code {
				t.Fatalf("err %v, want code %v", err, tc.code)
			}
			if tc.code != codes.OK {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("%d responses %v, want %d", len(got), got, len(tc.want))
			}
			for i, m := range got {
				if js := compactJSON(t, m); !strings.Contains(js, tc.want[i]) {
					t.Errorf("response %d = %s, want it to contain %s", i, js, tc.want[i])
				}
			}
		})
	}
}

func TestCreateBooksErrorNamesRequest(t *testing.T) {
	c := startClient(t)
	_, err := c.stream("CreateBooks", `{"parent": "shelves/1", "book": {"title": "ok"}}`, `{"parent": "shelves/1"}`)
	if err == nil || !strings.Contains(err.Error(), "request 1: book.title") {
		t.Fatalf("err = %v, want it to name request 1", err)
	}
	got, err := c.unary("CountBooks", `{"parent": "shelves/1"}`)
	if err != nil {
		t.Fatal(err)
	}
	if js := compactJSON(t, got); js != `{"count":"3"}` {
		t.Fatalf("count after a half-failed batch = %s, want the first book kept", js)
	}
}

func TestHandlersFreshState(t *testing.T) {
	a, b := startClient(t), startClient(t)
	if _, err := a.unary("DeleteBook", `{"name": "shelves/1/books/1"}`); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"changed": a, "fresh": b} {
		got, err := c.unary("CountBooks", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"changed": `{"count":"2"}`, "fresh": `{"count":"3"}`}[name]
		if js := compactJSON(t, got); js != want {
			t.Errorf("%s library: %s, want %s", name, js, want)
		}
	}
}

// compactJSON answers m as JSON without insignificant spaces.
func compactJSON(t *testing.T, m *dynamicpb.Message) string {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.String()
}
