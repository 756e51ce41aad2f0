package httprule

import (
	"fmt"
	"testing"
)

// benchRouter registers n templates of assorted shapes under four methods
// and returns requests (method and path) that hit some of them.
// request is a method and an escaped path.
type request struct{ method, path string }

func benchRouter(tb testing.TB, n int) (*Router[int], []request) {
	var b Builder[int]
	methods := []string{"GET", "POST", "PATCH", "DELETE"}
	var paths []request
	for i := range n {
		var tmpl, path string
		switch i % 4 {
		case 0:
			tmpl, path = fmt.Sprintf("/v1/res%d/{id}", i), fmt.Sprintf("/v1/res%d/abc", i)
		case 1:
			tmpl, path = fmt.Sprintf("/v1/{name=res%d/*/sub/*}", i), fmt.Sprintf("/v1/res%d/a/sub/b", i)
		case 2:
			tmpl, path = fmt.Sprintf("/v1/res%d/{id}:run", i), fmt.Sprintf("/v1/res%d/x:run", i)
		default:
			tmpl, path = fmt.Sprintf("/v2/res%d/static/list", i), fmt.Sprintf("/v2/res%d/static/list", i)
		}
		if err := b.Add(methods[i%len(methods)], mustParse(tb, tmpl), i); err != nil {
			tb.Fatal(err)
		}
		if i%(max(n/10, 1)) == 0 {
			paths = append(paths, request{methods[i%len(methods)], path})
		}
	}
	return b.Build(), paths
}

// BenchmarkLookup reports the cost of a matching lookup; allocations are
// the Vars slice only (the paths hold no escapes).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("templates=%d", n), func(b *testing.B) {
			r, paths := benchRouter(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := paths[i%len(paths)]
				if _, _, found, _ := r.Lookup(p.method, p.path); !found {
					b.Fatalf("no match for %s %s", p.method, p.path)
				}
				i++
			}
		})
	}
}

// TestLookupAllocs pins what Lookup may allocate: the Vars slice, one
// buffer for the values holding escapes, and the allowed slice.
func TestLookupAllocs(t *testing.T) {
	r := build(t, []route{
		{"GET", "/v1/shelves"},
		{"GET", "/v1/b%6Fok/{id}"},
		{"GET", "/v1/{a}/{b=x/**}:publish"},
		{"POST", "/v1/shelves/{id}"},
		{"DELETE", "/v1/shelves/{id}"},
	})
	tests := []struct {
		method, path string
		allocs       float64
	}{
		{"GET", "/v1/shelves", 0},
		{"GET", "/v1/b%6fok/1", 1},
		{"GET", "/v1/a/x/y/z:publish", 1},
		{"GET", "/v1/a%20b/x/y%2Fz:publish", 2},
		{"GET", "/nowhere/at/all", 0},
		{"GET", "/v1/shelves/1", 1}, // allowed: DELETE, POST
	}
	for _, tt := range tests {
		got := testing.AllocsPerRun(200, func() {
			if _, _, _, err := r.Lookup(tt.method, tt.path); err != nil {
				t.Fatal(err)
			}
		})
		if got != tt.allocs {
			t.Errorf("%s %s: %v allocations, want %v", tt.method, tt.path, got, tt.allocs)
		}
	}
}
