package l7_test

import (
	"net/http"
	"testing"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/route"
)

// discardWriter is a minimal ResponseWriter that keeps its header map, so
// the benchmark measures the gateway, not a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkGatewayRespond measures the per-request work of the gateway
// around a terminal (request id, client address, path normalization,
// route match, metrics) with a direct-response route.
func BenchmarkGatewayRespond(b *testing.B) {
	table, err := route.Compile([]route.Entry[*l7.Route]{{Name: "r", Match: configs.Match{Prefix: "/"},
		Value: &l7.Route{Name: "r", Terminal: l7.NewRespond(configs.RespondAction{Status: 200, Body: "hello", ContentType: "text/plain"})}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, metrics := range []bool{false, true} {
		name := "metrics=off"
		var m *l7.Metrics
		if metrics {
			name, m = "metrics=on", l7.NewMetrics()
		}
		b.Run(name, func(b *testing.B) {
			gw := l7.NewGateway(m, nil)
			gw.Swap(&l7.Snapshot{Tables: map[string]*route.Table[*l7.Route]{"web": table}, RequestIDHeader: "X-Request-Id"})
			h := gw.Handler("web")
			req, _ := http.NewRequest("GET", "http://example.com/some/path?q=1", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.RequestURI = "/some/path?q=1"
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				req.Header = http.Header{}
				h.ServeHTTP(w, req)
			}
		})
	}
}
