package credauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/bouncer-proxy/bouncer/l7"
)

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// countingBasic builds a Basic whose bcrypt comparisons are counted and
// whose clock is fake.
func countingBasic(t *testing.T, opts BasicOptions) (*Basic, *atomic.Int64, *fakeClock) {
	t.Helper()
	b, err := NewBasic(opts)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	clock := newFakeClock()
	b.now = clock.now
	b.verify = func(hash, pw []byte) error {
		n.Add(1)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return b, &n, clock
}

func basicReq(user, pass string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r
}

func TestBasicAuthenticate(t *testing.T) {
	long := strings.Repeat("p", bcryptMaxPassword)
	b, compares, _ := countingBasic(t, BasicOptions{Users: []BasicUser{
		{Name: "alice", Hash: bcryptHash(t, "wonderland"), Metadata: map[string]string{"team": "a"}},
		{Name: "bob", Hash: bcryptHash(t, "builder"), Consumer: "team-b"},
		{Name: "carol", Hash: bcryptHash(t, long)},
	}})
	raw := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if v != "" {
			r.Header.Set("Authorization", v)
		}
		return r
	}
	tests := []struct {
		name     string
		req      *http.Request
		consumer string
		reason   string // AuthError reason; neither: ErrNoCredentials
		compares int64  // bcrypt comparisons this case makes
	}{
		{"right password", basicReq("alice", "wonderland"), "alice", "", 1},
		{"same again is cached", basicReq("alice", "wonderland"), "alice", "", 0},
		{"consumer mapping", basicReq("bob", "builder"), "team-b", "", 1},
		{"wrong password", basicReq("alice", "looking-glass"), "", "invalid credentials", 1},
		{"wrong password again is not cached", basicReq("alice", "looking-glass"), "", "invalid credentials", 1},
		{"unknown user still compares", basicReq("mallory", "x"), "", "invalid credentials", 1},
		{"password over 72 bytes", basicReq("carol", long+"extra"), "", "invalid credentials", 1},
		{"password of 72 bytes", basicReq("carol", long), "carol", "", 1},
		{"lower-case scheme", raw("basic " + base64.StdEncoding.EncodeToString([]byte("bob:builder"))), "team-b", "", 0},
		{"not base64", raw("Basic !!!"), "", "malformed credentials", 0},
		{"no colon", raw("Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))), "", "malformed credentials", 0},
		{"empty user", raw("Basic " + base64.StdEncoding.EncodeToString([]byte(":pw"))), "", "malformed credentials", 0},
		{"bearer is not ours", raw("Bearer abc"), "", "", 0},
		{"no header", raw(""), "", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := compares.Load()
			id, err := b.Authenticate(tc.req)
			checkBasicResult(t, id, err, tc.consumer, tc.reason)
			if got := compares.Load() - before; got != tc.compares {
				t.Fatalf("bcrypt comparisons = %d, want %d", got, tc.compares)
			}
		})
	}
}

// checkBasicResult checks an outcome: an identity of consumer, an
// AuthError with reason, or (neither given) ErrNoCredentials.
func checkBasicResult(t *testing.T, id *l7.Identity, err error, consumer, reason string) {
	t.Helper()
	switch {
	case consumer != "":
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		if id.Method != "basic" || id.Consumer != consumer || id.Subject == "" {
			t.Fatalf("identity = %+v", id)
		}
	case reason != "":
		ae := asAuthError(t, err)
		if ae.Reason != reason || ae.Scheme != "Basic" {
			t.Fatalf("auth error = %+v", ae)
		}
		if !strings.HasPrefix(ae.Challenge(), `Basic realm="bouncer"`) {
			t.Fatalf("challenge = %q", ae.Challenge())
		}
	default:
		if !errors.Is(err, l7.ErrNoCredentials) {
			t.Fatalf("err = %v, want ErrNoCredentials", err)
		}
	}
}

func TestBasicUnknownUserUsesDummyHash(t *testing.T) {
	b, _, _ := countingBasic(t, BasicOptions{Users: []BasicUser{{Name: "alice", Hash: bcryptHash(t, "pw")}}})
	var seen []byte
	b.verify = func(hash, pw []byte) error {
		seen = hash
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	if _, err := b.Authenticate(basicReq("nobody", "pw")); err == nil {
		t.Fatal("unknown user accepted")
	}
	if !bytes.Equal(seen, b.dummy) {
		t.Fatalf("compared against %q, want the dummy hash", seen)
	}
	if cost, err := bcrypt.Cost(b.dummy); err != nil || cost != bcrypt.MinCost {
		t.Fatalf("dummy cost = %d, %v", cost, err)
	}
}

func TestBasicCacheExpiry(t *testing.T) {
	b, compares, clock := countingBasic(t, BasicOptions{Realm: "r", Users: []BasicUser{{Name: "alice", Hash: bcryptHash(t, "pw")}}})
	for range 3 {
		if _, err := b.Authenticate(basicReq("alice", "pw")); err != nil {
			t.Fatal(err)
		}
	}
	if got := compares.Load(); got != 1 {
		t.Fatalf("comparisons before expiry = %d, want 1", got)
	}
	clock.advance(time.Minute)
	if _, err := b.Authenticate(basicReq("alice", "pw")); err != nil {
		t.Fatal(err)
	}
	if got := compares.Load(); got != 2 {
		t.Fatalf("comparisons after expiry = %d, want 2", got)
	}
}

func TestBasicCacheDisabled(t *testing.T) {
	b, compares, _ := countingBasic(t, BasicOptions{CacheTTL: -1, Users: []BasicUser{{Name: "alice", Hash: bcryptHash(t, "pw")}}})
	for range 2 {
		if _, err := b.Authenticate(basicReq("alice", "pw")); err != nil {
			t.Fatal(err)
		}
	}
	if got := compares.Load(); got != 2 {
		t.Fatalf("comparisons = %d, want 2", got)
	}
}

func TestBasicCacheBounded(t *testing.T) {
	users := make([]BasicUser, 5)
	for i := range users {
		users[i] = BasicUser{Name: string(rune('a' + i)), Hash: bcryptHash(t, "pw")}
	}
	b, _, _ := countingBasic(t, BasicOptions{MaxCacheEntries: 2, Users: users})
	for _, u := range users {
		if _, err := b.Authenticate(basicReq(u.Name, "pw")); err != nil {
			t.Fatal(err)
		}
	}
	if n := b.cache.len(); n != 2 {
		t.Fatalf("cache holds %d entries, want 2", n)
	}
}

func TestNewBasicErrors(t *testing.T) {
	h := bcryptHash(t, "pw")
	tests := []struct {
		name  string
		users []BasicUser
		want  string
	}{
		{"no users", nil, "at least one user"},
		{"no name", []BasicUser{{Hash: h}}, "name is required"},
		{"colon", []BasicUser{{Name: "a:b", Hash: h}}, "colon"},
		{"not bcrypt", []BasicUser{{Name: "a", Hash: "$apr1$abc$def"}}, "hash must be bcrypt"},
		{"truncated bcrypt", []BasicUser{{Name: "a", Hash: h[:20]}}, "bad bcrypt hash"},
		{"duplicate", []BasicUser{{Name: "a", Hash: h}, {Name: "a", Hash: h}}, `duplicate user "a"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBasic(BasicOptions{Users: tc.users})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBasicAcceptsAllPrefixes(t *testing.T) {
	h := bcryptHash(t, "pw") // $2a$
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		b, err := NewBasic(BasicOptions{Users: []BasicUser{{Name: "u", Hash: prefix + h[4:]}}})
		if err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
		if _, err := b.Authenticate(basicReq("u", "pw")); err != nil {
			t.Fatalf("%s: %v", prefix, err)
		}
	}
}
