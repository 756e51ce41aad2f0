package credauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
)

func testAPIKeys(t testing.TB) *APIKeys {
	t.Helper()
	// bob's hash is written in upper-case hex: accepted.
	a, err := NewAPIKeys(APIKeyOptions{Query: "api_key", Realm: "api", Keys: []APIKey{
		{Consumer: Consumer{Name: "alice", Metadata: map[string]string{"tier": "gold"}}, Hash: HashAPIKey("k-alice")},
		{Consumer: Consumer{Name: "bob"}, Hash: "sha256:" + strings.ToUpper(HashAPIKey("k-bob")[7:])},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAPIKeyAuthenticate(t *testing.T) {
	a := testAPIKeys(t)
	tests := []struct {
		name      string
		target    string
		header    string
		consumer  string // "" with wantErr nil: ErrNoCredentials
		reason    string // AuthError reason
		wantQuery string
	}{
		{name: "header alice", target: "/x?a=1", header: "k-alice", consumer: "alice", wantQuery: "a=1"},
		{name: "header bob", target: "/x", header: "k-bob", consumer: "bob"},
		{name: "query bob removed", target: "/x?a=1&api_key=k-bob&b=%2F", consumer: "bob", wantQuery: "a=1&b=%2F"},
		{name: "query only param", target: "/x?api_key=k-alice", consumer: "alice"},
		{name: "encoded param name", target: "/x?api%5Fkey=k-bob&z", consumer: "bob", wantQuery: "z"},
		{name: "repeated param first wins", target: "/x?api_key=k-alice&api_key=k-bob", consumer: "alice"},
		{name: "header wins over query, query removed", target: "/x?api_key=k-bob", header: "k-alice", consumer: "alice"},
		{name: "unknown header", target: "/x", header: "nope", reason: "unknown API key"},
		{name: "unknown query removed", target: "/x?api_key=nope&q=1", reason: "unknown API key", wantQuery: "q=1"},
		{name: "no key", target: "/x?q=1", wantQuery: "q=1"},
		{name: "empty query key", target: "/x?api_key=", wantQuery: ""},
		{name: "similar param kept", target: "/x?api_key2=k-bob", wantQuery: "api_key2=k-bob"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.header != "" {
				r.Header.Set("x-api-key", tc.header)
			}
			id, err := a.Authenticate(r)
			switch {
			case tc.consumer != "":
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if id.Method != "api_key" || id.Consumer != tc.consumer {
					t.Fatalf("identity = %+v", id)
				}
			case tc.reason != "":
				ae := asAuthError(t, err)
				if ae.Reason != tc.reason || ae.Scheme != "ApiKey" || ae.Status != 0 {
					t.Fatalf("auth error = %+v", ae)
				}
				if got := ae.Challenge(); got != `ApiKey realm="api", error_description="unknown API key"` {
					t.Fatalf("challenge = %q", got)
				}
			default:
				if !errors.Is(err, l7.ErrNoCredentials) {
					t.Fatalf("err = %v, want ErrNoCredentials", err)
				}
			}
			if r.URL.RawQuery != tc.wantQuery {
				t.Fatalf("query = %q, want %q", r.URL.RawQuery, tc.wantQuery)
			}
			if want := r.URL.RequestURI(); r.RequestURI != want {
				t.Fatalf("RequestURI = %q, want %q", r.RequestURI, want)
			}
		})
	}
}

func TestAPIKeyMetadata(t *testing.T) {
	a := testAPIKeys(t)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", "k-alice")
	id, err := a.Authenticate(r)
	if err != nil {
		t.Fatal(err)
	}
	if id.Metadata["tier"] != "gold" {
		t.Fatalf("metadata = %v", id.Metadata)
	}
}

func TestAPIKeyHeaderOnlyIgnoresQuery(t *testing.T) {
	a, err := NewAPIKeys(APIKeyOptions{Header: "authorization-key", Keys: []APIKey{
		{Consumer: Consumer{Name: "c"}, Hash: HashAPIKey("secret")}}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/?api_key=secret", nil)
	if _, err := a.Authenticate(r); !errors.Is(err, l7.ErrNoCredentials) {
		t.Fatalf("err = %v, want ErrNoCredentials", err)
	}
	r.Header.Set("Authorization-Key", "secret")
	if id, err := a.Authenticate(r); err != nil || id.Consumer != "c" {
		t.Fatalf("id = %+v, err = %v", id, err)
	}
}

func TestHashAPIKey(t *testing.T) {
	// printf %s abc | sha256sum
	const want = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashAPIKey("abc"); got != want {
		t.Fatalf("HashAPIKey = %q", got)
	}
}

func TestNewAPIKeysErrors(t *testing.T) {
	good := APIKey{Consumer: Consumer{Name: "a"}, Hash: HashAPIKey("x")}
	tests := []struct {
		name string
		opts APIKeyOptions
		want string
	}{
		{"no keys", APIKeyOptions{}, "at least one key"},
		{"bad header", APIKeyOptions{Header: "x key", Keys: []APIKey{good}}, "invalid header name"},
		{"no consumer", APIKeyOptions{Keys: []APIKey{{Hash: good.Hash}}}, "consumer name is required"},
		{"no prefix", APIKeyOptions{Keys: []APIKey{{Consumer: good.Consumer, Hash: "md5:00"}}}, `start with "sha256:"`},
		{"short", APIKeyOptions{Keys: []APIKey{{Consumer: good.Consumer, Hash: "sha256:abcd"}}}, "64 hex digits"},
		{"not hex", APIKeyOptions{Keys: []APIKey{{Consumer: good.Consumer, Hash: "sha256:" + strings.Repeat("zz", 32)}}}, "invalid byte"},
		{"duplicate", APIKeyOptions{Keys: []APIKey{good, {Consumer: Consumer{Name: "b"}, Hash: good.Hash}}}, "same key as consumer a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewAPIKeys(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func BenchmarkAPIKeyLookup(b *testing.B) {
	keys := make([]APIKey, 1000)
	for i := range keys {
		keys[i] = APIKey{Consumer: Consumer{Name: fmt.Sprint("c", i)}, Hash: HashAPIKey(fmt.Sprint("key-", i))}
	}
	a, err := NewAPIKeys(APIKeyOptions{Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", "key-500")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}
