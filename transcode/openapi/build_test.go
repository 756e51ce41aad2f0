package openapi

import (
	"bytes"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
)

const lib = "bouncer.library.v1.Library."

// wantPaths are the OpenAPI paths of the sample service, by method, with
// the operationIds (after the service name).
var wantPaths = map[string]map[string]string{
	"/v1/shelves":                            {"get": "ListShelves", "post": "CreateShelf"},
	"/v1/{name}":                             {"get": "GetShelf", "delete": "DeleteShelf"},
	"/v1/{name_1}":                           {"get": "GetBook", "delete": "DeleteBook"},
	"/v1/{parent}/books":                     {"get": "ListBooks", "post": "CreateBook"},
	"/v1/books":                              {"get": "ListBooks_1"},
	"/v1/{parent}/books:list":                {"get": "ListBooks_2"},
	"/v1/{name}/title":                       {"get": "GetBook_1"},
	"/v1/{book.name}":                        {"patch": "UpdateBook", "put": "UpdateBook_1"},
	"/v1/{name}:publish":                     {"post": "PublishBook"},
	"/v1/{parent}/books:stream":              {"get": "StreamBooks"},
	"/v1/{name}:watch":                       {"get": "Watch"},
	"/v1/books:batchCreate":                  {"post": "CreateBooks"},
	"/v1/chat":                               {"post": "Chat"},
	"/v1/files/{path}":                       {"put": "UploadFile", "get": "DownloadFile"},
	"/v1/raw:echo":                           {"post": "EchoRaw"},
	"/v1/echo":                               {"post": "Echo", "get": "Echo_1"},
	"/v1/echo/{int64_field}/{genre}":         {"get": "Echo_2"},
	"/v1/echo/{string_field}:nested":         {"post": "Echo_3"},
	"/v1/fail":                               {"post": "Fail"},
	"/v1/fail/{code}":                        {"get": "Fail_1"},
	"/bouncer.library.v1.Library/CountBooks": {"post": "CountBooks"},
}

// TestLibraryPaths checks that every binding of the sample service is in
// the document under the expected path, method and operationId.
func TestLibraryPaths(t *testing.T) {
	ops := annotatedOps(t, library(t))
	doc := buildDoc(t, ops, Options{Title: "Library", Version: "v1"})
	if got := at(t, doc, "openapi"); got != "3.1.0" {
		t.Fatalf("openapi = %v", got)
	}
	if at(t, doc, "info", "title") != "Library" || at(t, doc, "info", "version") != "v1" {
		t.Errorf("info = %v", at(t, doc, "info"))
	}
	paths := at(t, doc, "paths").(map[string]any)
	if len(paths) != len(wantPaths) {
		t.Errorf("%d paths, want %d: %v", len(paths), len(wantPaths), keys(paths))
	}
	for path, methods := range wantPaths {
		item, ok := paths[path].(map[string]any)
		if !ok {
			t.Errorf("path %s missing", path)
			continue
		}
		if len(item) != len(methods) {
			t.Errorf("%s: methods %v, want %v", path, keys(item), methods)
		}
		for m, id := range methods {
			if got := at(t, item, m, "operationId"); got != lib+id {
				t.Errorf("%s %s: operationId %v, want %s", m, path, got, lib+id)
			}
			if got := canon(t, at(t, item, m, "tags")); got != `["bouncer.library.v1.Library"]` {
				t.Errorf("%s %s: tags %s", m, path, got)
			}
		}
	}
	if got := at(t, paths, "/v1/shelves", "get", "summary"); got != "Lists all shelves, in name order." {
		t.Errorf("summary = %q", got)
	}
	if got := at(t, paths, "/v1/{name}:publish", "post", "x-grpc-method"); got != "/bouncer.library.v1.Library/PublishBook" {
		t.Errorf("x-grpc-method = %v", got)
	}
	jsonEq(t, "tags", at(t, doc, "tags"), `[{"name":"bouncer.library.v1.Library","description":"Library manages shelves and the books on them."}]`)
	checkStructure(t, doc)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestParameters checks the parameters of a few operations exactly.
func TestParameters(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{})
	multi := `The value spans several path segments and holds '/' as is (OpenAPI path parameters cannot express that; do not escape '/' as %2F).`
	genre := `{"type":"string","description":"Genre classifies a book; also used as an enum query parameter.",` +
		`"enum":["GENRE_UNSPECIFIED","FICTION","POETRY","SCIENCE","HISTORY"]}`
	cases := []struct {
		path, method, want string
	}{
		{"/v1/{name}", "get", `[{"name":"name","in":"path","required":true,"description":"` + multi + `",
			"schema":{"type":"string","pattern":"^shelves/[^/]+$"},"x-multi-segment":true}]`},
		{"/v1/{name_1}", "get", `[{"name":"name_1","in":"path","required":true,
			"description":"` + multi + `\n\nFills the field name.",
			"schema":{"type":"string","pattern":"^shelves/[^/]+/books/[^/]+$"},"x-multi-segment":true,"x-field-path":"name"}]`},
		{"/v1/{parent}/books", "get", `[
			{"name":"parent","in":"path","required":true,"description":"\"shelves/{shelf}\"; empty lists every shelf.\n\n` + multi + `",
				"schema":{"type":"string","pattern":"^shelves/[^/]+$"},"x-multi-segment":true},
			{"name":"pageSize","in":"query","description":"Maximum number of books answered; 0 means all.","schema":{"type":"integer","format":"int32"}},
			{"name":"pageToken","in":"query","description":"Opaque token from a previous answer's next_page_token.","schema":{"type":"string"}},
			{"name":"tags","in":"query","description":"Only books carrying every one of these tags.\n\nRepeat the parameter for each value.",
				"style":"form","explode":true,"schema":{"type":"array","items":{"type":"string"}}},
			{"name":"genre","in":"query","description":"Only books of this genre, unless GENRE_UNSPECIFIED.","schema":` + genre + `},
			{"name":"filter.author","in":"query","schema":{"type":"string"}},
			{"name":"filter.minPages","in":"query","schema":{"type":"string","format":"int64"}},
			{"name":"filter.publishedAfter","in":"query","schema":{"type":"string","format":"date-time",
				"description":"An RFC 3339 time in UTC, e.g. 2024-01-02T15:04:05.5Z."}}]`},
		{"/v1/{parent}/books", "post", `[
			{"name":"parent","in":"path","required":true,"description":"` + multi + `",
				"schema":{"type":"string","pattern":"^shelves/[^/]+$"},"x-multi-segment":true},
			{"name":"bookId","in":"query","description":"Chosen book id; the server picks one when empty.","schema":{"type":"string"}}]`},
		{"/v1/{book.name}", "patch", `[
			{"name":"book.name","in":"path","required":true,"description":"Resource name, \"shelves/{shelf}/books/{book}\".\n\n` + multi + `",
				"schema":{"type":"string","pattern":"^shelves/[^/]+/books/[^/]+$"},"x-multi-segment":true},
			{"name":"updateMask","in":"query","schema":{"type":"string",
				"description":"Comma-separated field paths in lowerCamelCase, e.g. title,publishTime."}}]`},
		{"/v1/{name}:publish", "post", `[{"name":"name","in":"path","required":true,"description":"` + multi + `",
			"schema":{"type":"string","pattern":"^shelves/[^/]+/books/[^/]+$"},"x-multi-segment":true}]`},
		{"/v1/files/{path}", "get", `[{"name":"path","in":"path","required":true,
			"description":"` + multi + `","schema":{"type":"string","pattern":"^.*$"},"x-multi-segment":true}]`},
		{"/v1/fail/{code}", "get", `[
			{"name":"code","in":"path","required":true,"description":"gRPC status code to fail with.","schema":{"type":"integer","format":"int32"}},
			{"name":"message","in":"query","schema":{"type":"string"}},
			{"name":"details","in":"query","description":"Attach BadRequest and ErrorInfo details.","schema":{"type":"boolean"}}]`},
		{"/v1/shelves", "get", `null`},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			op := at(t, doc, "paths", c.path, c.method).(map[string]any)
			jsonEq(t, "parameters", op["parameters"], c.want)
		})
	}
}

// TestEchoQuery checks Echo over GET: path fields typed, bound fields not
// in the query, maps and repeated messages never there, the json_name
// honoured, and no query parameters when the body is "*".
func TestEchoQuery(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{})
	echo := at(t, doc, "paths", "/v1/echo/{int64_field}/{genre}", "get", "parameters").([]any)
	jsonEq(t, "int64_field", echo[0], `{"name":"int64_field","in":"path","required":true,"schema":{"type":"string","format":"int64"}}`)
	jsonEq(t, "genre", at(t, echo[1], "schema", "enum"), `["GENRE_UNSPECIFIED","FICTION","POETRY","SCIENCE","HISTORY"]`)
	var names []string
	for _, p := range echo[2:] {
		names = append(names, at(t, p, "name").(string))
	}
	for _, absent := range []string{"int64Field", "genre", "labels", "nestedList", "nestedById", "struct", "value", "any", "empty", "displayName"} {
		if slices.Contains(names, absent) {
			t.Errorf("query parameter %s should not be listed", absent)
		}
	}
	for _, present := range []string{"doubleField", "label", "maybe", "nested.note", "nested.count", "nested.genres",
		"int64List", "genreList", "choiceText", "choiceNested.note", "timestamp", "duration", "fieldMask",
		"int64Wrapper", "timestampList"} {
		if !slices.Contains(names, present) {
			t.Errorf("query parameter %s missing from %v", present, names)
		}
	}
	if ps := at(t, doc, "paths", "/v1/echo", "post").(map[string]any)["parameters"]; ps != nil {
		t.Errorf("POST /v1/echo has parameters %v", ps)
	}
}

// TestProtoNames checks that UseProtoNames names properties and query
// parameters by proto names.
func TestProtoNames(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{UseProtoNames: true})
	var names []string
	for _, p := range at(t, doc, "paths", "/v1/{parent}/books", "get", "parameters").([]any) {
		names = append(names, at(t, p, "name").(string))
	}
	want := []string{"parent", "page_size", "page_token", "tags", "genre", "filter.author", "filter.min_pages", "filter.published_after"}
	if !slices.Equal(names, want) {
		t.Errorf("parameters %v, want %v", names, want)
	}
	props := at(t, doc, "components", "schemas", "bouncer.library.v1.Everything", "properties").(map[string]any)
	for _, n := range []string{"display_name", "int64_field", "nested_by_id"} {
		if _, ok := props[n]; !ok {
			t.Errorf("property %s missing", n)
		}
	}
	if _, ok := props["label"]; ok {
		t.Error("json_name used with UseProtoNames")
	}
	jsonEq(t, "required", at(t, doc, "components", "schemas", "bouncer.library.v1.Shelf", "required"), `["theme"]`)
}

// TestBodiesAndResponses checks request bodies, success answers of every
// streaming kind and HttpBody, and the error answer.
func TestBodiesAndResponses(t *testing.T) {
	doc := buildDoc(t, annotatedOps(t, library(t)), Options{})
	ref := func(name string) string { return `{"$ref":"#/components/schemas/` + name + `"}` }
	book := ref("bouncer.library.v1.Book")
	binary := `{"type":"string","format":"binary"}`
	cases := []struct {
		path, method string
		body         string // requestBody.content, "" for none
		ok           string // the success response's content
	}{
		{"/v1/shelves", "post", `{"application/json":{"schema":` + ref("bouncer.library.v1.Shelf") + `}}`,
			`{"application/json":{"schema":` + ref("bouncer.library.v1.Shelf") + `}}`},
		{"/v1/{name}:publish", "post", `{"application/json":{"schema":` + ref("bouncer.library.v1.PublishBookRequest") + `}}`,
			`{"application/json":{"schema":` + book + `}}`},
		{"/v1/{name}/title", "get", "", `{"application/json":{"schema":{"type":"string"}}}`},
		{"/v1/{parent}/books:list", "get", "", `{"application/json":{"schema":{"type":"array","items":` + book + `}}}`},
		{"/v1/{parent}/books:stream", "get", "", `{"application/x-ndjson":{"schema":` + book + `},
			"text/event-stream":{"schema":{"type":"string","description":"Events \"data: <message JSON>\"."}},
			"application/json":{"schema":{"type":"array","items":` + book + `}}}`},
		{"/v1/books:batchCreate", "post", `{"application/x-ndjson":{"schema":` + ref("bouncer.library.v1.CreateBookRequest") + `}}`,
			`{"application/json":{"schema":` + ref("bouncer.library.v1.CreateBooksResponse") + `}}`},
		{"/v1/chat", "post", `{"application/x-ndjson":{"schema":` + ref("bouncer.library.v1.ChatMessage") + `}}`,
			`{"application/x-ndjson":{"schema":` + ref("bouncer.library.v1.ChatMessage") + `},
			"text/event-stream":{"schema":{"type":"string","description":"Events \"data: <message JSON>\"."}},
			"application/json":{"schema":{"type":"array","items":` + ref("bouncer.library.v1.ChatMessage") + `}}}`},
		{"/v1/files/{path}", "put", `{"*/*":{"schema":` + binary + `}}`,
			`{"application/json":{"schema":` + ref("bouncer.library.v1.FileInfo") + `}}`},
		{"/v1/files/{path}", "get", "", `{"*/*":{"schema":` + binary + `}}`},
		{"/v1/raw:echo", "post", `{"*/*":{"schema":` + binary + `}}`, `{"*/*":{"schema":` + binary + `}}`},
		{"/v1/echo/{string_field}:nested", "post", `{"application/json":{"schema":` + ref("bouncer.library.v1.Everything.Nested") + `}}`,
			`{"application/json":{"schema":` + ref("bouncer.library.v1.Everything") + `}}`},
		{"/v1/{name}", "delete", "", `{"application/json":{"schema":` + ref("google.protobuf.Empty") + `}}`},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			op := at(t, doc, "paths", c.path, c.method).(map[string]any)
			if c.body == "" {
				if op["requestBody"] != nil {
					t.Errorf("unexpected requestBody %v", op["requestBody"])
				}
			} else {
				jsonEq(t, "requestBody", at(t, op, "requestBody", "content"), c.body)
			}
			jsonEq(t, "200", at(t, op, "responses", "200", "content"), c.ok)
			jsonEq(t, "default", at(t, op, "responses", "default", "content"), `{"application/json":{"schema":`+ref("google.rpc.Status")+`}}`)
		})
	}
	if got := at(t, doc, "paths", "/v1/books:batchCreate", "post", "x-grpc-streaming"); got != "client" {
		t.Errorf("x-grpc-streaming = %v", got)
	}
	if got := at(t, doc, "paths", "/v1/chat", "post", "x-grpc-streaming"); got != "bidi" {
		t.Errorf("x-grpc-streaming = %v", got)
	}
	if _, ok := at(t, doc, "components", "schemas").(map[string]any)["google.api.HttpBody"]; ok {
		t.Error("google.api.HttpBody has a schema though every use of it is raw")
	}
}

// TestStatusAndCustomMethod checks a non-200 success status and an HTTP
// method outside OpenAPI's fixed set.
func TestStatusAndCustomMethod(t *testing.T) {
	sd := library(t)
	md := sd.Methods().ByName("CreateShelf")
	create := newOp(t, md, http.MethodPost, "/v2/shelves", "shelf", "")
	create.Status = http.StatusCreated
	list := newOp(t, sd.Methods().ByName("ListShelves"), "LIST", "/v2/shelves", "", "")
	doc := buildDoc(t, []Operation{create, list}, Options{})
	item := at(t, doc, "paths", "/v2/shelves").(map[string]any)
	if _, ok := at(t, item, "post", "responses").(map[string]any)["201"]; !ok {
		t.Errorf("responses %v, want 201", at(t, item, "post", "responses"))
	}
	if got := at(t, item, "x-additionalOperations", "LIST", "operationId"); got != lib+"ListShelves" {
		t.Errorf("LIST operationId = %v", got)
	}
	checkStructure(t, doc)
}

// TestDeterministic builds twice, and once with the operations of
// different methods interleaved otherwise: the bytes are the same.
func TestDeterministic(t *testing.T) {
	ops := annotatedOps(t, library(t))
	a, err := Build(ops, Options{Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(ops, Options{Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	// Reverse the methods, keeping each method's bindings in order.
	shuffled := slices.Clone(ops)
	sort.SliceStable(shuffled, func(i, j int) bool {
		return shuffled[i].Method.Index() > shuffled[j].Method.Index()
	})
	c, err := Build(shuffled, Options{Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatal("two builds of the same operations differ")
	}
}

// TestBuildErrors checks that bad operations are refused with a reason.
func TestBuildErrors(t *testing.T) {
	sd := library(t)
	get := sd.Methods().ByName("GetBook")
	ok := newOp(t, get, http.MethodGet, "/v1/{name=shelves/*/books/*}", "", "")
	badBody := newOp(t, sd.Methods().ByName("CreateBook"), http.MethodPost, "/v1/x", "nope", "")
	badResp := newOp(t, get, http.MethodGet, "/v1/y", "", "nope")
	badVar := newOp(t, get, http.MethodGet, "/v1/{nope}", "", "")
	cases := []struct {
		name string
		ops  []Operation
		want string
	}{
		{"no template", []Operation{{HTTPMethod: "GET", Method: get}}, "operation 0"},
		{"no method", []Operation{{HTTPMethod: "GET", Template: ok.Template}}, "operation 0"},
		{"body", []Operation{badBody}, "body"},
		{"response_body", []Operation{badResp}, "response_body"},
		{"variable", []Operation{badVar}, "nope"},
		{"duplicate", []Operation{ok, ok}, "two operations for GET /v1/{name}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.ops, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "openapi: ") {
				t.Fatalf("err = %v, want one mentioning %q", err, c.want)
			}
		})
	}
}
