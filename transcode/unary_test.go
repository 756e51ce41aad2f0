package transcode_test

import (
	"encoding/json"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Every JSON form the mapping treats specially goes through Echo (body
// "*") and comes back in canonical protojson form: int64 as strings,
// enums by name, json_name, well-known types, and an Any whose type is
// resolved from the reflected descriptors, not from types linked into
// Bouncer.
func TestGoldenEcho(t *testing.T) {
	f := startFixture(t, "")
	req, err := os.ReadFile("testdata/golden/echo.request.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/golden/echo.response.json")
	if err != nil {
		t.Fatal(err)
	}
	r := f.do(t, "POST", "/v1/echo", string(req))
	if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q: %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	var got, exp any
	if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &exp); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, exp) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("echo answered\n%s\nwant testdata/golden/echo.response.json", g)
	}
}

// Resources are created, read, listed, updated and deleted through their
// annotated bindings: body fields, path variables of several segments,
// query parameters, response_body, a custom verb.
func TestResourceLifecycle(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "POST", "/v1/shelves", `{"theme":"Travel"}`)
	if r.Status != 200 {
		t.Fatalf("create shelf: %d %s", r.Status, r.Body)
	}
	shelf := jsonOf(t, r.Body)["name"].(string)
	if !strings.HasPrefix(shelf, "shelves/") {
		t.Fatalf("shelf name %q", shelf)
	}
	if r := f.do(t, "GET", "/v1/"+shelf, ""); r.Status != 200 || jsonOf(t, r.Body)["theme"] != "Travel" {
		t.Fatalf("get shelf: %d %s", r.Status, r.Body)
	}
	r = f.do(t, "POST", "/v1/"+shelf+"/books?bookId=atlas", `{"title":"Atlas","author":"Anon","genre":"HISTORY","tags":["maps","old"],"pageCount":300}`)
	if r.Status != 200 {
		t.Fatalf("create book: %d %s", r.Status, r.Body)
	}
	book := jsonOf(t, r.Body)
	if book["name"] != shelf+"/books/atlas" || book["pageCount"] != "300" {
		t.Fatalf("created book %v", book)
	}
	// response_body: the title field alone, as a JSON string.
	if r := f.do(t, "GET", "/v1/"+shelf+"/books/atlas/title", ""); r.Status != 200 || r.Body != `"Atlas"` {
		t.Fatalf("title: %d %q", r.Status, r.Body)
	}
	// Query parameters: repeated, enum by name and by number, nested.
	for _, q := range []string{"tags=maps&tags=old", "genre=HISTORY", "genre=4", "filter.author=Anon", "filter.minPages=100", "pageSize=5"} {
		r := f.do(t, "GET", "/v1/"+shelf+"/books?"+q, "")
		books, _ := jsonOf(t, r.Body)["books"].([]any)
		if r.Status != 200 || len(books) != 1 {
			t.Fatalf("list ?%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := f.do(t, "GET", "/v1/"+shelf+"/books?genre=POETRY", ""); r.Status != 200 || strings.Contains(r.Body, "Atlas") {
		t.Fatalf("genre filter: %d %s", r.Status, r.Body)
	}
	// PATCH with a field mask in the query; PUT as an additional binding.
	r = f.do(t, "PATCH", "/v1/"+shelf+"/books/atlas?updateMask=title", `{"title":"Atlas II","author":"ignored"}`)
	if b := jsonOf(t, r.Body); r.Status != 200 || b["title"] != "Atlas II" || b["author"] != "Anon" {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	// A custom verb.
	r = f.do(t, "POST", "/v1/"+shelf+"/books/atlas:publish", `{"publishTime":"2025-05-01T10:00:00Z"}`)
	if b := jsonOf(t, r.Body); r.Status != 200 || b["published"] != true || b["publishTime"] != "2025-05-01T10:00:00Z" {
		t.Fatalf("publish: %d %s", r.Status, r.Body)
	}
	// response_body naming a repeated field: a JSON array.
	if r := f.do(t, "GET", "/v1/"+shelf+"/books:list", ""); r.Status != 200 || !strings.HasPrefix(r.Body, "[") {
		t.Fatalf("books:list: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "DELETE", "/v1/"+shelf+"/books/atlas", ""); r.Status != 200 || r.Body != "{}" {
		t.Fatalf("delete: %d %q", r.Status, r.Body)
	}
	r = f.do(t, "GET", "/v1/"+shelf+"/books/atlas", "")
	if st := statusOf(t, r); r.Status != 404 || st.Code != 5 || st.Message == "" {
		t.Fatalf("get deleted: %d %s", r.Status, r.Body)
	}
}

// Bad requests are a 400 google.rpc.Status (INVALID_ARGUMENT) saying
// where, and never reach the service; unknown names are ignored unless
// the route is strict.
func TestBadInput(t *testing.T) {
	f := startFixture(t, "")
	cases := []struct {
		name, method, path, body, field string
	}{
		{"malformed json", "POST", "/v1/echo", `{"int32Field": }`, ""},
		{"wrong type", "POST", "/v1/echo", `{"int32Field": "many"}`, ""},
		{"bad enum in body", "POST", "/v1/echo", `{"genre": "OPERA"}`, ""},
		{"bad timestamp", "POST", "/v1/echo", `{"timestamp": "yesterday"}`, ""},
		{"bad duration", "POST", "/v1/echo", `{"duration": "3 minutes"}`, ""},
		{"int32 overflow in query", "GET", "/v1/echo?int32Field=3000000000", "", "int32Field"},
		{"bad enum in query", "GET", "/v1/echo?genre=OPERA", "", "genre"},
		{"repeated message in query", "GET", "/v1/echo?nestedList=x", "", "nestedList"},
		{"bad int64 in path", "GET", "/v1/echo/12x/POETRY", "", "int64_field"},
		{"bad enum in path", "GET", "/v1/echo/12/OPERA", "", "genre"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do(t, tc.method, tc.path, tc.body)
			st := statusOf(t, r)
			if r.Status != 400 || st.Code != 3 || st.Message == "" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
			if tc.field != "" {
				br := st.detail("google.rpc.BadRequest")
				if br == nil || !strings.Contains(r.Body, tc.field) {
					t.Fatalf("no field violation naming %s: %s", tc.field, r.Body)
				}
			}
		})
	}
	if r := f.do(t, "POST", "/v1/echo", `{"stringField":"x","noSuchField":1}`); r.Status != 200 {
		t.Fatalf("unknown JSON field not ignored: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "GET", "/v1/echo?noSuch=1&stringField=y", ""); r.Status != 200 || jsonOf(t, r.Body)["stringField"] != "y" {
		t.Fatalf("unknown query parameter not ignored: %d %s", r.Status, r.Body)
	}
	if r := f.do(t, "POST", "/v1/echo", "<xml/>", "Content-Type", "application/xml"); r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("xml body: %d %s", r.Status, r.Body)
	}

	strict := startFixture(t, "strict: true")
	for _, c := range [][2]string{{"POST", `{"stringField":"x","noSuchField":1}`}, {"GET", ""}} {
		path := "/v1/echo"
		if c[0] == "GET" {
			path += "?noSuch=1"
		}
		r := strict.do(t, c[0], path, c[1])
		if r.Status != 400 || !strings.Contains(r.Body, "noSuch") {
			t.Fatalf("strict %s: %d %s", c[0], r.Status, r.Body)
		}
	}
}

// gRPC errors become their HTTP status with a google.rpc.Status body whose
// details are resolved; codes past 16 are a 500.
func TestErrorMapping(t *testing.T) {
	f := startFixture(t, "")
	for code, want := range map[int]int{3: 400, 5: 404, 7: 403, 8: 429, 9: 400, 12: 501, 14: 503, 16: 401, 4: 504, 42: 500, 2: 500} {
		r := f.do(t, "POST", "/v1/fail", `{"code":`+strconv.Itoa(code)+`,"message":"boom","details":true}`)
		st := statusOf(t, r)
		if r.Status != want || st.Code != code || st.Message != "boom" {
			t.Errorf("code %d: got %d %s, want %d", code, r.Status, r.Body, want)
			continue
		}
		if st.detail("google.rpc.BadRequest") == nil || st.detail("google.rpc.ErrorInfo") == nil {
			t.Errorf("code %d: details missing: %s", code, r.Body)
		}
	}
}

// A path that exists for other methods is a 405 with Allow; one that does
// not exist is a 404; both in the google.rpc.Status shape.
func TestMethodNotAllowedAndNotFound(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "DELETE", "/v1/shelves", "")
	if r.Status != 405 || r.Header.Get("Allow") != "GET, POST" || statusOf(t, r).Code != 12 {
		t.Fatalf("405: %d Allow=%q %s", r.Status, r.Header.Get("Allow"), r.Body)
	}
	r = f.do(t, "GET", "/v2/nothing", "")
	if r.Status != 404 || statusOf(t, r).Code != 5 {
		t.Fatalf("404: %d %s", r.Status, r.Body)
	}
}

// Every method is also served at POST /package.Service/Method with the
// request message as JSON, including one without annotations; auto_post
// turns it off.
func TestAutoPost(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", `{}`)
	if r.Status != 200 || !strings.Contains(r.Body, "count") {
		t.Fatalf("auto POST: %d %s", r.Status, r.Body)
	}
	off := startFixture(t, "auto_post: false")
	if r := off.do(t, "POST", "/bouncer.library.v1.Library/CountBooks", `{}`); r.Status != 404 {
		t.Fatalf("auto_post off: %d %s", r.Status, r.Body)
	}
}

// google.api.HttpBody: an upload keeps its bytes and content type beside a
// multi-segment path variable, a download answers raw bytes, and an
// HttpBody request and response echo any content type.
func TestHTTPBody(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "PUT", "/v1/files/docs/a%2Fb/readme.txt", "plain text\n", "Content-Type", "text/plain; charset=utf-8")
	info := jsonOf(t, r.Body)
	if r.Status != 200 || info["path"] != "docs/a%2Fb/readme.txt" || info["contentType"] != "text/plain; charset=utf-8" || info["size"] != "11" {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	r = f.do(t, "GET", "/v1/files/docs/a%2Fb/readme.txt", "")
	if r.Status != 200 || r.Body != "plain text\n" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("download: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	r = f.do(t, "POST", "/v1/raw:echo", "\x00\x01binary", "Content-Type", "application/x-thing")
	if r.Status != 200 || r.Body != "\x00\x01binary" || r.Header.Get("Content-Type") != "application/x-thing" {
		t.Fatalf("raw echo: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

// Path variables: one segment is fully decoded, several keep %2F.
func TestPathVariableDecoding(t *testing.T) {
	f := startFixture(t, "")
	r := f.do(t, "POST", "/v1/echo/a%2Fb%20c:nested", `{"note":"x"}`)
	if b := jsonOf(t, r.Body); r.Status != 200 || b["stringField"] != "a/b c" {
		t.Fatalf("single segment: %d %s", r.Status, r.Body)
	}
}
