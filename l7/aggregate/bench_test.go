package aggregate_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/aggregate"
)

// BenchmarkTwoCalls aggregates two parallel calls to in-process handlers:
// the package's own cost, without sockets.
func BenchmarkTwoCalls(b *testing.B) {
	answer := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, body)
		}
	}
	targets := aggregate.Targets{
		"users":  answer(`{"id":7,"name":"Ada","address":{"city":"London"}}`),
		"orders": answer(`[{"id":1,"total":12.5},{"id":2,"total":3}]`),
	}
	a, err := aggregate.New(aggregate.Options{Calls: []aggregate.Call{
		{Name: "user", Target: "users", Path: "/users/{query.id}"},
		{Name: "orders", Target: "orders", Path: "/orders", Query: map[string]string{"user": "{query.id}"}},
	}}, targets)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodGet, "/agg?id=7", nil)
			r = r.WithContext(l7.WithInfo(r.Context(), &l7.Info{RequestID: "r"}))
			w := httptest.NewRecorder()
			a.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
