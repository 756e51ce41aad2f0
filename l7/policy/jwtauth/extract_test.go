package jwtauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bouncer-proxy/bouncer/l7"
)

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sourcesVerifier reads the Authorization header, X-Api-Token, the
// session cookie and the access_token query parameter, in that order.
func sourcesVerifier(t *testing.T) (*Verifier, string) {
	v, _ := jwksVerifier(t, func(o *Options) {
		o.Sources = []Source{
			{In: InHeader},
			{In: InHeader, Name: "x-api-token"},
			{In: InCookie, Name: "session"},
			{In: InQuery, Name: "access_token"},
		}
	})
	return v, sign(t, jwt.SigningMethodES256, keys().p256, "p256", claims(nil))
}

func req(edit func(r *http.Request)) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/x?a=1", nil)
	edit(r)
	return r
}

func TestSourcesFound(t *testing.T) {
	v, tok := sourcesVerifier(t)
	ok := []struct {
		name string
		r    *http.Request
	}{
		{"authorization", req(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) })},
		{"scheme case and spaces", req(func(r *http.Request) { r.Header.Set("Authorization", "bEaReR   "+tok) })},
		{"custom header, no prefix", req(func(r *http.Request) { r.Header.Set("X-Api-Token", tok) })},
		{"cookie", req(func(r *http.Request) { r.AddCookie(&http.Cookie{Name: "session", Value: tok}) })},
		{"query", req(func(r *http.Request) { r.URL.RawQuery = "a=1&access_token=" + url.QueryEscape(tok) })},
		{"query escaped name", req(func(r *http.Request) { r.URL.RawQuery = "access%5Ftoken=" + tok })},
		{"other scheme falls through to cookie", req(func(r *http.Request) {
			r.Header.Set("Authorization", "Basic YTpi")
			r.AddCookie(&http.Cookie{Name: "session", Value: tok})
		})},
		{"header before cookie", req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
			r.AddCookie(&http.Cookie{Name: "session", Value: "junk"})
		})},
		{"header before query, which still leaves the URL", req(func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+tok)
			r.URL.RawQuery = "a=1&access_token=" + url.QueryEscape(tok)
			r.RequestURI = "/x?" + r.URL.RawQuery
		})},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			if _, err := v.Authenticate(c.r); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			// A token read from the query leaves the URL: neither proxied nor logged.
			if strings.Contains(c.r.URL.RawQuery, tok) || strings.Contains(c.r.RequestURI, tok) {
				t.Fatalf("the token is still in the request URL: %q / %q", c.r.URL.RawQuery, c.r.RequestURI)
			}
		})
	}
}

func TestSourcesMalformed(t *testing.T) {
	v, tok := sourcesVerifier(t)
	malformed := []struct {
		name string
		vals []string
	}{
		{"scheme alone", []string{"Bearer"}},
		{"scheme and spaces", []string{"Bearer   "}},
		{"two tokens", []string{"Bearer a.b.c d.e.f"}},
		{"bad characters", []string{"Bearer a.b.c!"}},
		{"two bearer headers", []string{"Bearer " + tok, "Bearer " + tok}},
	}
	for _, c := range malformed {
		t.Run("malformed/"+c.name, func(t *testing.T) {
			r := req(func(r *http.Request) {
				r.Header["Authorization"] = c.vals
				r.URL.RawQuery = "access_token=" + tok
			})
			_, err := v.Authenticate(r)
			wantAuthError(t, err, "invalid_request", "malformed authorization header")
			if strings.Contains(r.URL.RawQuery, tok) {
				t.Errorf("a refused request keeps its query token (it would be logged): %q", r.URL.RawQuery)
			}
		})
	}
}

func TestSourcesAbsent(t *testing.T) {
	v, _ := sourcesVerifier(t)
	none := []struct {
		name string
		r    *http.Request
	}{
		{"nothing", req(func(*http.Request) {})},
		{"basic only", req(func(r *http.Request) { r.Header.Set("Authorization", "Basic YTpi") })},
		{"empty cookie and query", req(func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: "session", Value: ""})
			r.URL.RawQuery = "access_token="
		})},
	}
	for _, c := range none {
		t.Run("none/"+c.name, func(t *testing.T) {
			if _, err := v.Authenticate(c.r); !errors.Is(err, l7.ErrNoCredentials) {
				t.Fatalf("error %v, want ErrNoCredentials", err)
			}
		})
	}
}

func TestTakeQueryParam(t *testing.T) {
	cases := []struct {
		raw, want, rest string
		ok              bool
	}{
		{"t=abc", "abc", "", true},
		{"x=1&t=a%2Eb&y=2", "a.b", "x=1&y=2", true},
		{"t=first&t=second", "first", "", true},
		{"%74=enc&x=1", "enc", "x=1", true},
		{"tt=abc", "", "tt=abc", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/p?"+c.raw, nil)
		got, ok := l7.TakeQueryParam(r, "t")
		if got != c.want || ok != c.ok || r.URL.RawQuery != c.rest || (c.ok && strings.Contains(r.RequestURI, "t=")) {
			t.Errorf("TakeQueryParam(%q) = %q %v, query left %q, RequestURI %q", c.raw, got, ok, r.URL.RawQuery, r.RequestURI)
		}
	}
}
