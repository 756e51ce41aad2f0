package transcode_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// benchFixture is startFixture for benchmarks (same route and service).
func benchFixture(b *testing.B) *fixture {
	b.Helper()
	f, errs := buildFixture(b, "", nil, nil)
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return f
}

// BenchmarkTranscode measures a whole transcoded call in process: an HTTP
// client, the handler (lookup, message filled and framed, call through
// the proxy machinery, JSON written) and the sample service over h2c on
// loopback. Compare with BenchmarkDirectGRPC for the cost of the service
// and the gRPC hop alone.
func BenchmarkTranscode(b *testing.B) {
	f := benchFixture(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	cases := []struct{ name, method, path, body string }{
		{"GET path vars", "GET", "/v1/shelves/1/books/1", ""},
		{"POST json body", "POST", "/v1/echo", `{"stringField":"hello","int64Field":"123","genre":"POETRY","nested":{"note":"n","count":5},"stringList":["a","b","c"],"labels":{"k":"v"},"timestamp":"2024-01-02T03:04:05Z","duration":"1.5s","boolWrapper":true}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var body io.Reader
					if c.body != "" {
						body = strings.NewReader(c.body)
					}
					req, _ := http.NewRequest(c.method, f.URL+c.path, body)
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}
