package querycred

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Strip empties the URL of the named parameters at once; Take then reads
// them from the context, and outside a chain takes them from the URL.
func TestStripThenTake(t *testing.T) {
	names := []string{"access_token", "api_key"}
	orig := httptest.NewRequest(http.MethodGet, "/p?a=1&access_token=t1&access_token=t2&b=%20", nil)
	r := Strip(orig, names)
	if orig.RequestURI != "/p?a=1&b=%20" || orig.URL.RawQuery != "a=1&b=%20" {
		t.Fatalf("after Strip: %q %q", orig.RequestURI, orig.URL.RawQuery)
	}
	for _, tc := range []struct {
		name, value string
		found       bool
	}{{"access_token", "t1", true}, {"api_key", "", false}, {"a", "1", true}} {
		if v, ok := Take(r, tc.name); v != tc.value || ok != tc.found {
			t.Errorf("Take(%q) = %q %v, want %q %v", tc.name, v, ok, tc.value, tc.found)
		}
	}
	if r.URL.RawQuery != "b=%20" {
		t.Errorf("a parameter Strip was not given is taken from the URL: %q", r.URL.RawQuery)
	}
	none := httptest.NewRequest(http.MethodGet, "/p?a=1", nil)
	if Strip(none, names) != none {
		t.Error("Strip made a new request although nothing was taken")
	}
}
