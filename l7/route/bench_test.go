package route

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
)

// benchKinds are the route shapes of the benchmark, one per i%len: distinct
// services under exact paths, prefixes, templates, regexes, exact and
// wildcard hosts, some with methods and headers.
var benchKinds = []string{"exact", "prefix", "template", "template-rest", "regex", "host", "wildcard", "prefix-header"}

func benchRoute(i int) configs.Match {
	svc := fmt.Sprintf("svc%d", i)
	switch benchKinds[i%len(benchKinds)] {
	case "exact":
		return configs.Match{Path: "/" + svc + "/health"}
	case "prefix":
		return configs.Match{Prefix: "/static/" + svc + "/"}
	case "template":
		return configs.Match{Template: "/api/v1/" + svc + "/items/{id}"}
	case "template-rest":
		return configs.Match{Template: "/api/v2/" + svc + "/{kind}/**", Methods: []string{"GET", "HEAD"}}
	case "regex":
		return configs.Match{Regex: "/re/" + svc + "/[0-9]+"}
	case "host":
		return configs.Match{Hosts: []string{svc + ".example.com"}, Prefix: "/"}
	case "wildcard":
		return configs.Match{Hosts: []string{"*." + svc + ".tenants.example.com"}, Template: "/v1/{id}"}
	default:
		return configs.Match{Prefix: "/api/v1/" + svc + "/", Headers: []configs.ValueMatch{{Name: "X-Env", Value: "prod"}}}
	}
}

// benchRequest is a request that route i, and no route before it in
// precedence, matches.
func benchRequest(i int) req {
	svc := fmt.Sprintf("svc%d", i)
	r := req{host: "www.example.net", method: "GET", header: http.Header{"X-Env": {"prod"}, "Accept": {"*/*"}}, query: "page=2"}
	switch benchKinds[i%len(benchKinds)] {
	case "exact":
		r.path = "/" + svc + "/health"
	case "prefix":
		r.path = "/static/" + svc + "/js/app.js"
	case "template":
		r.path = "/api/v1/" + svc + "/items/42"
	case "template-rest":
		r.path = "/api/v2/" + svc + "/orders/7/lines"
	case "regex":
		r.path = "/re/" + svc + "/12345"
	case "host":
		r.host, r.path = svc+".example.com:443", "/anything/here"
	case "wildcard":
		r.host, r.path = "acme."+svc+".tenants.example.com", "/v1/abc"
	default:
		r.path = "/api/v1/" + svc + "/users"
	}
	return r
}

func benchTable(b *testing.B, n int) *Table[int] {
	entries := make([]Entry[int], n, n+2)
	for i := range entries {
		entries[i] = Entry[int]{Name: fmt.Sprint("r", i), Match: benchRoute(i), Value: i, Index: i}
	}
	// catch-alls that every miss falls through to
	entries = append(entries,
		Entry[int]{Name: "wild", Match: configs.Match{Hosts: []string{"*.example.com"}, Prefix: "/fallback/"}, Value: -1, Index: n},
		Entry[int]{Name: "api", Match: configs.Match{Prefix: "/api/", Methods: []string{"POST"}}, Value: -2, Index: n + 1})
	tb, err := Compile(entries)
	if err != nil {
		b.Fatal(err)
	}
	return tb
}

// benchRequests picks up to 64 routes spread over the table, each kind
// included, and checks that their requests hit them.
func benchRequests(b *testing.B, tb *Table[int], n int) []req {
	var rs []req
	step := max(1, n/64)
	for i := 0; i < n && len(rs) < 64; i += step {
		for k := range benchKinds {
			if j := i + k; j < n && len(rs) < 64 {
				r := benchRequest(j)
				if v, ok := tb.Match(r.host, r.path, r.method, r.header, r.query); !ok || v != j {
					b.Fatalf("request for route %d (%s %s) got %d, %v", j, r.host, r.path, v, ok)
				}
				rs = append(rs, r)
			}
		}
	}
	return rs
}

// BenchmarkMatch measures hits, cycling through every route kind.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprint("routes=", n), func(b *testing.B) {
			tb := benchTable(b, n)
			rs := benchRequests(b, tb, n)
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for i := 0; b.Loop(); i++ {
				r := &rs[i%len(rs)]
				if _, ok := tb.Match(r.host, r.path, r.method, r.header, r.query); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkMatchKind measures one route kind among 10,000 routes.
func BenchmarkMatchKind(b *testing.B) {
	tb := benchTable(b, 10000)
	for k, kind := range benchKinds {
		b.Run("kind="+kind, func(b *testing.B) {
			r := benchRequest(5000 + k)
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, ok := tb.Match(r.host, r.path, r.method, r.header, r.query); !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkMatchMiss measures requests no route matches, the slowest case:
// every host group and every literal prefix along the path is tried.
func BenchmarkMatchMiss(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprint("routes=", n), func(b *testing.B) {
			tb := benchTable(b, n)
			hdr := http.Header{"Accept": {"*/*"}}
			b.ReportAllocs()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, ok := tb.Match("x.svc1.example.com", "/api/v1/svc1/items/42/more", "GET", hdr, ""); ok {
					b.Fatal("hit")
				}
			}
		})
	}
}

// BenchmarkCompile measures a config load of 10,000 routes.
func BenchmarkCompile(b *testing.B) {
	entries := make([]Entry[int], 10000)
	for i := range entries {
		entries[i] = Entry[int]{Name: fmt.Sprint("r", i), Match: benchRoute(i), Value: i, Index: i}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(entries); err != nil {
			b.Fatal(err)
		}
	}
}
