package transcode_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzRequest sends arbitrary methods, paths, queries and bodies through a
// transcode route to the real sample service: the handler must never
// panic, and every error it answers is a google.rpc.Status JSON body.
func FuzzRequest(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "/v1/shelves", "", ""},
		{"GET", "/v1/shelves/1/books", "pageSize=2&tags=a&tags=b&genre=POETRY&filter.author=x", ""},
		{"POST", "/v1/echo", "", `{"int64Field":"1","any":{"@type":"type.googleapis.com/bouncer.library.v1.Shelf","theme":"t"}}`},
		{"POST", "/v1/echo/a%2Fb:nested", "", `{"note":"n"}`},
		{"PATCH", "/v1/shelves/1/books/1", "updateMask=title", `{"title":"T"}`},
		{"PUT", "/v1/files/a/b/c", "", "raw"},
		{"GET", "/v1/fail/99", "", ""},
		{"POST", "/bouncer.library.v1.Library/CountBooks", "", `{"parent":"shelves/1"}`},
		{"DELETE", "/v1/shelves", "", ""},
		{"GET", "/v1/echo", "timestamp=2024-01-01T00:00:00Z&duration=1s&fieldMask=a,b", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	fx := startFixtureForFuzz(f)
	f.Fuzz(func(t *testing.T, method, path, query, body string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") {
			return
		}
		req, err := http.NewRequest(method, "http://gateway"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		if rec.Code >= 400 && rec.Header().Get("Allow") == "" && rec.Code != http.StatusNotImplemented {
			var st struct {
				Code    *int   `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Code == nil {
				t.Fatalf("%s %s?%s: %d with a body that is not a google.rpc.Status: %q", method, path, query, rec.Code, rec.Body.String())
			}
		}
	})
}

func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// startFixtureForFuzz is startFixture for a fuzz target.
func startFixtureForFuzz(f *testing.F) *fixture {
	f.Helper()
	fx, errs := buildFixture(f, "", nil, nil)
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	return fx
}
