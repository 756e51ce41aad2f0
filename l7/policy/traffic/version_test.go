package traffic

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var (
	deprecatedAt = time.Unix(1688169599, 0)                        // 2023-06-30T23:59:59Z
	sunsetPast   = time.Date(2024, 6, 30, 23, 59, 59, 0, time.UTC) // a Sunday
	sunsetFuture = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)
)

// versionBackends returns recorders for v1, v2 and v3.
func versionBackends() (map[string]http.Handler, map[string]*recorder) {
	recs := map[string]*recorder{"v1": {}, "v2": {}, "v3": {}}
	hs := map[string]http.Handler{}
	for n, rc := range recs {
		hs[n] = rc
	}
	return hs, recs
}

func TestVersionsByPath(t *testing.T) {
	for _, strip := range []bool{true, false} {
		hs, recs := versionBackends()
		v, err := NewVersions(VersionOptions{StripPrefix: strip, Default: "v2", Versions: []APIVersion{
			{Name: "v1", Backend: "v1"}, {Name: "v2", Backend: "v2"}, {Name: "beta", Backend: "v3"},
		}}, hs)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			target, backend string
			stripped, raw   string // path and raw path after stripping; "" for an unversioned target
		}{
			{"/v1/orders/7", "v1", "/orders/7", ""},
			{"/v1", "v1", "/", ""},
			{"/v2/", "v2", "/", ""},
			{"/beta/x", "v3", "/x", ""},
			{"/v1/a%2Fb", "v1", "/a/b", "/a%2Fb"},
			{"/orders", "v2", "", ""},
			{"/video/1", "v2", "", ""},
			{"/v1%2Fx/y", "v2", "", ""}, // an escaped slash: not a version segment
		}
		for _, tt := range tests {
			w := serve(v, httptest.NewRequest("GET", tt.target, nil))
			if w.Code != http.StatusOK {
				t.Fatalf("strip=%v %s: status %d %s", strip, tt.target, w.Code, w.Body)
			}
			got := recs[tt.backend].last(t)
			orig := httptest.NewRequest("GET", tt.target, nil).URL
			wantPath, wantRaw := orig.Path, orig.RawPath
			if strip && tt.stripped != "" {
				wantPath, wantRaw = tt.stripped, tt.raw
			}
			if got.Path != wantPath || got.RawPath != wantRaw {
				t.Errorf("strip=%v %s: backend %s saw %q (raw %q), want %q (raw %q)",
					strip, tt.target, tt.backend, got.Path, got.RawPath, wantPath, wantRaw)
			}
		}
	}
}

func TestVersionsByHeaderAndQuery(t *testing.T) {
	hs, recs := versionBackends()
	vs := []APIVersion{{Name: "1", Backend: "v1"}, {Name: "2", Backend: "v2"}}
	byHeader, err := NewVersions(VersionOptions{From: "header:api-version", Default: "1", Versions: vs}, hs)
	if err != nil {
		t.Fatal(err)
	}
	byQuery, err := NewVersions(VersionOptions{From: "query:version", Versions: vs}, hs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		h      http.Handler
		target string
		header string
		status int
		served string // recorder whose count rises
	}{
		{"header names 2", byHeader, "/v1/x", "2", 200, "v2"},
		{"header trimmed", byHeader, "/", " 2 ", 200, "v2"},
		{"no header, default", byHeader, "/", "", 200, "v1"},
		{"unknown header", byHeader, "/", "3", 404, ""},
		{"query names 2", byQuery, "/x?version=2", "", 200, "v2"},
		{"unknown query", byQuery, "/x?version=9", "", 404, ""},
		{"no query, no default", byQuery, "/x", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.header != "" {
				r.Header.Set("Api-Version", tt.header)
			}
			before := map[string]int{"v1": len(recs["v1"].reqs), "v2": len(recs["v2"].reqs)}
			w := serve(tt.h, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			for name, n := range before {
				if grew := len(recs[name].reqs) > n; grew != (name == tt.served) {
					t.Errorf("backend %s served: %v", name, grew)
				}
			}
			if tt.h == byHeader && w.Header().Get("Vary") != "Api-Version" {
				t.Errorf("Vary = %q", w.Header().Get("Vary"))
			}
		})
	}
}

func TestVersionsUnknown404(t *testing.T) {
	hs, _ := versionBackends()
	v, err := NewVersions(VersionOptions{Versions: []APIVersion{{Name: "v1", Backend: "v1"}, {Name: "v2", Backend: "v2"}}}, hs)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]string{
		"/v9/orders": `unknown API version "v9"; known versions: v1, v2`,
		"/orders":    "no API version given; known versions: v1, v2",
	} {
		w := serve(v, httptest.NewRequest("GET", target, nil))
		status, code, msg := errorJSON(t, w.Body.Bytes())
		if w.Code != 404 || status != 404 || code != "NOT_FOUND" || msg != want {
			t.Errorf("%s: %d %s %q", target, w.Code, code, msg)
		}
		if w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: content type %q", target, w.Header().Get("Content-Type"))
		}
	}
}

func TestVersionsDeprecationHeaders(t *testing.T) {
	hs, _ := versionBackends()
	opts := VersionOptions{Versions: []APIVersion{
		{Name: "v1", Backend: "v1", Deprecated: deprecatedAt, Sunset: sunsetPast,
			DeprecationLink: "https://dev.example.com/deprecation", SunsetLink: "https://dev.example.com/sunset"},
		{Name: "v2", Backend: "v2", Deprecated: deprecatedAt, Sunset: sunsetFuture},
		{Name: "v3", Backend: "v3"},
	}}
	wantV1 := http.Header{
		"Deprecation": {"@1688169599"},
		"Sunset":      {"Sun, 30 Jun 2024 23:59:59 GMT"},
		"Link":        {`<https://dev.example.com/deprecation>; rel="deprecation"`, `<https://dev.example.com/sunset>; rel="sunset"`},
	}
	for _, reject := range []bool{false, true} {
		opts.RejectAfterSunset = reject
		v, err := NewVersions(opts, hs)
		if err != nil {
			t.Fatal(err)
		}
		w := serve(v, httptest.NewRequest("GET", "/v1/x", nil))
		for k, want := range wantV1 {
			if got := w.Header().Values(k); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("reject=%v: %s = %q, want %q", reject, k, got, want)
			}
		}
		if !reject && w.Code != 200 {
			t.Errorf("past sunset without reject: status %d", w.Code)
		}
		if reject {
			status, code, msg := errorJSON(t, w.Body.Bytes())
			if w.Code != 410 || status != 410 || code != CodeGone ||
				msg != `API version "v1" was retired on Sun, 30 Jun 2024 23:59:59 GMT` {
				t.Errorf("past sunset: %d %s %q", w.Code, code, msg)
			}
		}
		w = serve(v, httptest.NewRequest("GET", "/v2/x", nil))
		if w.Code != 200 || w.Header().Get("Sunset") != "Tue, 01 Jan 2999 00:00:00 GMT" || w.Header().Get("Link") != "" {
			t.Errorf("future sunset: %d %v", w.Code, w.Header())
		}
		w = serve(v, httptest.NewRequest("GET", "/v3/x", nil))
		if w.Header().Get("Deprecation") != "" || w.Header().Get("Sunset") != "" {
			t.Errorf("current version marked: %v", w.Header())
		}
	}
}

func TestNewVersionsErrors(t *testing.T) {
	hs, _ := versionBackends()
	one := []APIVersion{{Name: "v1", Backend: "v1"}}
	tests := []struct {
		name string
		opts VersionOptions
		want string
	}{
		{"no versions", VersionOptions{}, "at least one version"},
		{"bad from", VersionOptions{From: "cookie:v", Versions: one}, "unknown source"},
		{"bad header", VersionOptions{From: "header:a b", Versions: one}, "invalid header name"},
		{"empty query", VersionOptions{From: "query:", Versions: one}, "query parameter name is empty"},
		{"strip with header", VersionOptions{From: "header:V", StripPrefix: true, Versions: one}, "strip_prefix needs"},
		{"duplicate", VersionOptions{Versions: []APIVersion{{Name: "v1", Backend: "v1"}, {Name: "v1", Backend: "v2"}}}, "listed twice"},
		{"empty name", VersionOptions{Versions: []APIVersion{{Backend: "v1"}}}, "invalid name"},
		{"slash in path name", VersionOptions{Versions: []APIVersion{{Name: "a/b", Backend: "v1"}}}, "slash"},
		{"unknown backend", VersionOptions{Versions: []APIVersion{{Name: "v1", Backend: "zz"}}}, `unknown backend "zz"`},
		{"unknown default", VersionOptions{Default: "v9", Versions: one}, `default "v9"`},
		{"sunset before deprecation", VersionOptions{Versions: []APIVersion{{Name: "v1", Backend: "v1",
			Deprecated: sunsetFuture, Sunset: sunsetPast}}}, "sunset is before deprecated"},
		{"link without deprecation", VersionOptions{Versions: []APIVersion{{Name: "v1", Backend: "v1",
			DeprecationLink: "https://x"}}}, "needs deprecated"},
		{"bad link", VersionOptions{Versions: []APIVersion{{Name: "v1", Backend: "v1",
			SunsetLink: "https://x/>; rel=evil"}}}, "sunset_link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVersions(tt.opts, hs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "versions") {
				t.Errorf("err %q lacks the component prefix", err)
			}
		})
	}
}

// With a path prefix the version is the segment after it, and stripping
// keeps the prefix.
func TestVersionsPathPrefix(t *testing.T) {
	var got string
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path })
	v, err := NewVersions(VersionOptions{PathPrefix: "/api/", StripPrefix: true, Default: "v2",
		Versions: []APIVersion{{Name: "v1", Backend: "a"}, {Name: "v2", Backend: "b"}}}, map[string]http.Handler{"a": rec, "b": rec})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/api/v1/items": "/api/items", "/api/items": "/api/items", "/api/v2": "/api/"} {
		got = ""
		w := httptest.NewRecorder()
		v.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if got != want {
			t.Errorf("%s reached the backend as %q, want %q (status %d)", path, got, want, w.Code)
		}
	}
	w := httptest.NewRecorder()
	v.ServeHTTP(w, httptest.NewRequest("GET", "/api/v7/x", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("unknown version after the prefix: %d", w.Code)
	}

	// A prefix with escapes is cut where it matched, in the escaped path.
	var esc string
	rec = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, esc = r.URL.Path, r.URL.EscapedPath() })
	v, err = NewVersions(VersionOptions{PathPrefix: "/my%20api/", StripPrefix: true, Default: "v2",
		Versions: []APIVersion{{Name: "v1", Backend: "a"}, {Name: "v2", Backend: "b"}}}, map[string]http.Handler{"a": rec, "b": rec})
	if err != nil {
		t.Fatal(err)
	}
	v.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/my%20api/v1/a%2Fb", nil))
	if got != "/my api/a/b" || esc != "/my%20api/a%2Fb" {
		t.Errorf("escaped prefix: backend saw %q (escaped %q), want \"/my api/a/b\" (\"/my%%20api/a%%2Fb\")", got, esc)
	}
}
