package cache

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// step is one request of a semantics case and what must come back.
type step struct {
	advance time.Duration     // clock moves first
	method  string            // GET when empty
	path    string            // /r when empty
	hdr     map[string]string // request headers
	down    bool              // the origin drops connections
	wait    bool              // wait for background revalidation after
	status  int               // 200 when 0
	calls   int64             // origin requests so far
	cs      string            // Cache-Status contains this
	body    string            // body, when set
	want    map[string]string // response headers; "-" means absent
}

// semCase is one RFC 9111 behaviour, checked against a real origin.
type semCase struct {
	name   string
	rfc    string // the section it checks
	opts   Options
	origin originFunc
	steps  []step
}

func TestSemantics(t *testing.T) {
	cases := append(freshnessCases(), validationCases()...)
	cases = append(cases, storageCases()...)
	cases = append(cases, staleCases()...)
	cases = append(cases, ageCases()...)
	cases = append(cases, varyCases()...)
	cases = append(cases, keyCases()...)
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, nil, tc.origin)
			for i, s := range tc.steps {
				h.clk.Advance(s.advance)
				h.down.Store(s.down)
				method, path := or(s.method, http.MethodGet), or(s.path, "/r")
				resp, body := h.do(method, path, s.hdr)
				if s.wait {
					h.waitIdle()
				}
				checkStep(t, tc.rfc, i, s, resp, body, h.calls.Load())
			}
		})
	}
}

func checkStep(t *testing.T, rfc string, i int, s step, resp *http.Response, body string, calls int64) {
	t.Helper()
	cs := strings.Join(resp.Header.Values("Cache-Status"), ", ")
	where := func() string { return rfc + " step " + string(rune('0'+i)) + " (Cache-Status " + cs + ")" }
	if want := or(s.status, http.StatusOK); resp.StatusCode != want {
		t.Errorf("%s: status %d, want %d", where(), resp.StatusCode, want)
	}
	if calls != s.calls {
		t.Errorf("%s: origin calls %d, want %d", where(), calls, s.calls)
	}
	if !strings.Contains(cs, s.cs) {
		t.Errorf("%s: Cache-Status lacks %q", where(), s.cs)
	}
	if s.body != "" && body != s.body {
		t.Errorf("%s: body %q, want %q", where(), body, s.body)
	}
	for k, v := range s.want {
		got, ok := resp.Header[http.CanonicalHeaderKey(k)]
		switch {
		case v == "-" && ok:
			t.Errorf("%s: header %s = %q, want absent", where(), k, got)
		case v != "-" && (len(got) == 0 || got[0] != v):
			t.Errorf("%s: header %s = %q, want %q", where(), k, got, v)
		}
	}
}

// hdr builds a header map from pairs.
func hdr(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func freshnessCases() []semCase {
	return []semCase{
		{name: "max-age fresh hit", rfc: "§4.2.1", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{calls: 1, cs: "Bouncer; fwd=uri-miss; fwd-status=200; stored", body: "v1"},
				{advance: 30 * time.Second, calls: 1, cs: "Bouncer; hit; ttl=30", body: "v1", want: hdr("Age", "30")},
			}},
		{name: "max-age expired goes upstream", rfc: "§4.2", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{calls: 1},
				{advance: 61 * time.Second, calls: 2, cs: "fwd=stale; fwd-status=200; stored", body: "v2"},
				{advance: time.Second, calls: 2, cs: "hit; ttl=59", body: "v2"},
			}},
		{name: "s-maxage beats max-age", rfc: "§4.2.1, §5.2.2.10", origin: serveBody(200, "Cache-Control", "max-age=10, s-maxage=100"),
			steps: []step{{calls: 1}, {advance: 50 * time.Second, calls: 1, cs: "hit; ttl=50"}}},
		{name: "Expires minus Date", rfc: "§4.2.1, §5.3", origin: expiresIn(100 * time.Second),
			steps: []step{
				{calls: 1},
				{advance: 40 * time.Second, calls: 1, cs: "hit; ttl=60"},
				{advance: 61 * time.Second, calls: 2, cs: "fwd=stale"},
			}},
		{name: "invalid Expires is already expired", rfc: "§5.3", origin: serveBody(200, "Expires", "0"),
			steps: []step{{calls: 1, cs: "detail=not-fresh"}, {calls: 2, cs: "fwd=uri-miss"}}},
		{name: "max-age overrides Expires", rfc: "§5.3", origin: serveBody(200, "Cache-Control", "max-age=10", "Expires", "Tue, 01 Jan 2030 01:00:00 GMT"),
			steps: []step{{calls: 1}, {advance: 20 * time.Second, calls: 2}}},
		{name: "heuristic freshness from Last-Modified", rfc: "§4.2.2", origin: serveBody(200, "Last-Modified", "Mon, 31 Dec 2029 23:43:20 GMT"),
			steps: []step{
				{calls: 1, cs: "stored"},
				{advance: 50 * time.Second, calls: 1, cs: "hit; ttl=50"},
				{advance: 60 * time.Second, calls: 2, cs: "fwd=stale"},
			}},
		{name: "heuristic capped by MaxHeuristic", rfc: "§4.2.2", opts: Options{MaxHeuristic: time.Minute},
			origin: serveBody(200, "Last-Modified", "Sat, 01 Dec 2029 00:00:00 GMT"),
			steps:  []step{{calls: 1}, {advance: 59 * time.Second, calls: 1, cs: "hit; ttl=1"}, {advance: 2 * time.Second, calls: 2}}},
		{name: "404 is heuristically cacheable", rfc: "§4.2.2, RFC 9110 §15.1", origin: serveBody(404, "Last-Modified", "Mon, 31 Dec 2029 23:43:20 GMT"),
			steps: []step{{status: 404, calls: 1, cs: "stored"}, {status: 404, calls: 1, cs: "hit", body: "v1"}}},
		{name: "302 without freshness is not stored", rfc: "§3, §4.2.2", origin: serveBody(302, "Location", "/x", "Last-Modified", "Mon, 31 Dec 2029 23:43:20 GMT"),
			steps: []step{{status: 302, calls: 1, cs: "detail=status"}, {status: 302, calls: 2}}},
		{name: "302 with max-age is stored", rfc: "§3", origin: serveBody(302, "Location", "/x", "Cache-Control", "max-age=60"),
			steps: []step{{status: 302, calls: 1, cs: "stored"}, {status: 302, calls: 1, cs: "hit", want: hdr("Location", "/x")}}},
	}
}

func ageCases() []semCase {
	return []semCase{
		{name: "Age from upstream Age and resident time", rfc: "§4.2.3", origin: serveBody(200, "Cache-Control", "max-age=60", "Age", "20"),
			steps: []step{
				{calls: 1},
				{advance: 10 * time.Second, calls: 1, cs: "hit; ttl=30", want: hdr("Age", "30")},
				{advance: 31 * time.Second, calls: 2},
			}},
		{name: "apparent age from an old Date", rfc: "§4.2.3", origin: dateAgo(30*time.Second, "max-age=60"),
			steps: []step{{calls: 1}, {calls: 1, cs: "hit; ttl=30", want: hdr("Age", "30")}}},
		{name: "request max-age forwards an older response", rfc: "§5.2.1.1", origin: serveBody(200, "Cache-Control", "max-age=600"),
			steps: []step{
				{calls: 1},
				{advance: 100 * time.Second, hdr: hdr("Cache-Control", "max-age=50"), calls: 2, cs: "fwd=request", body: "v2"},
				{hdr: hdr("Cache-Control", "max-age=50"), calls: 2, cs: "hit"},
			}},
		{name: "min-fresh", rfc: "§5.2.1.3", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{calls: 1},
				{advance: 30 * time.Second, hdr: hdr("Cache-Control", "min-fresh=40"), calls: 2, cs: "fwd=request"},
				{hdr: hdr("Cache-Control", "min-fresh=20"), calls: 2, cs: "hit", body: "v2"},
			}},
		{name: "max-stale", rfc: "§5.2.1.2, §4.2.4", origin: serveBody(200, "Cache-Control", "max-age=10"),
			steps: []step{
				{calls: 1},
				{advance: 20 * time.Second, hdr: hdr("Cache-Control", "max-stale=30"), calls: 1, cs: "hit; ttl=-10", body: "v1"},
				{hdr: hdr("Cache-Control", "max-stale"), calls: 1, cs: "hit"},
				{hdr: hdr("Cache-Control", "max-stale=5"), calls: 2, cs: "fwd=stale", body: "v2"},
			}},
		{name: "only-if-cached", rfc: "§5.2.1.7", origin: serveBody(200, "Cache-Control", "max-age=60"),
			steps: []step{
				{hdr: hdr("Cache-Control", "only-if-cached"), status: 504, calls: 0, cs: "detail=only-if-cached"},
				{calls: 1},
				{hdr: hdr("Cache-Control", "only-if-cached"), calls: 1, cs: "hit", body: "v1"},
				{advance: time.Minute, hdr: hdr("Cache-Control", "only-if-cached"), status: 504, calls: 1},
			}},
	}
}

// expiresIn sets Expires d after the Date.
func expiresIn(d time.Duration) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		date, _ := http.ParseTime(w.Header().Get("Date"))
		serveBody(200, "Expires", date.Add(d).Format(http.TimeFormat))(w, r, n)
	}
}

// dateAgo sends a Date d in the past.
func dateAgo(d time.Duration, cc string) originFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) {
		date, _ := http.ParseTime(w.Header().Get("Date"))
		serveBody(200, "Date", date.Add(-d).Format(http.TimeFormat), "Cache-Control", cc)(w, r, n)
	}
}
