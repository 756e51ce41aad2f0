package h3

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
)

// upstreamAltSvc is the Alt-Svc an upstream sent, copied by the proxy.
const upstreamAltSvc = `h3=":9443"; ma=60`

// withUpstreamAltSvc answers like a proxied upstream that advertises
// its own HTTP/3 endpoint.
var withUpstreamAltSvc = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Alt-Svc", upstreamAltSvc)
	_, _ = io.WriteString(w, r.Proto)
})

func TestAdvertiseAltSvcByProtocol(t *testing.T) {
	const ours = `h3=":8443"; ma=86400`
	for _, tc := range []struct {
		name  string
		major int
		value string
		want  []string
	}{
		{"http/1.1", 1, ours, []string{ours}},
		{"h2", 2, ours, []string{ours}},
		{"h3", 3, ours, nil},
		{"not serving h3", 1, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://example.test/", nil)
			r.ProtoMajor = tc.major
			w := httptest.NewRecorder()
			AdvertiseAltSvc(withUpstreamAltSvc, func() string { return tc.value }).ServeHTTP(w, r)
			got := w.Result().Header["Alt-Svc"]
			if len(got) != len(tc.want) || (len(got) == 1 && got[0] != tc.want[0]) {
				t.Fatalf("Alt-Svc %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAdvertiseAltSvcSilentHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Alt-Svc", upstreamAltSvc) // and writes nothing
	})
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	AdvertiseAltSvc(h, func() string { return "ours" }).ServeHTTP(w, r)
	if got := w.Header().Values("Alt-Svc"); len(got) != 1 || got[0] != "ours" {
		t.Fatalf("Alt-Svc %q, want [ours]", got)
	}
}

// TestAltSvcDiscovery: a client speaks h2 to the TCP listener, reads
// Alt-Svc, and then reaches the same handler over HTTP/3 on the UDP port
// it names, where no Alt-Svc is sent and the upstream's is gone.
func TestAltSvcDiscovery(t *testing.T) {
	var srv *Server
	ts := httptest.NewUnstartedServer(AdvertiseAltSvc(withUpstreamAltSvc, func() string { return srv.AltSvc() }))
	ts.EnableHTTP2 = true
	udp, err := net.ListenPacket("udp", ts.Listener.Addr().String()) // the TCP listener's address
	if err != nil {
		t.Skipf("UDP port of the TCP listener is taken: %v", err)
	}
	f := startOn(t, Options{Handler: ts.Config.Handler}, udp, nil)
	srv = f.srv
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{f.ca.TLSCert(t, serverName, "127.0.0.1")}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	waitAltSvc(t, srv)

	h2 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: f.ca.Pool, ServerName: serverName}, ForceAttemptHTTP2: true,
	}}
	t.Cleanup(h2.CloseIdleConnections)
	resp, err := h2.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	alt := resp.Header.Values("Alt-Svc")
	if string(body) != "HTTP/2.0" || len(alt) != 1 {
		t.Fatalf("over h2: body %q Alt-Svc %q", body, alt)
	}
	port := advertisedPort(t, alt[0])
	if port != strconv.Itoa(f.addr.Port) {
		t.Fatalf("advertised port %s, serving on %d", port, f.addr.Port)
	}

	h3 := &http.Client{Timeout: 10 * time.Second, Transport: &http3.Transport{TLSClientConfig: f.clientTLS()}}
	resp, err = h3.Get("https://127.0.0.1:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/3.0" || resp.Header.Values("Alt-Svc") != nil {
		t.Fatalf("over h3: body %q Alt-Svc %q", body, resp.Header.Values("Alt-Svc"))
	}
}

// waitAltSvc waits until Serve has set the Alt-Svc value.
func waitAltSvc(t *testing.T, s *Server) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.AltSvc() == ""; {
		if time.Now().After(deadline) {
			t.Fatal("no Alt-Svc value after 5 s")
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline, not synchronising
	}
}

// advertisedPort is PORT of `h3=":PORT"; ma=N`.
func advertisedPort(t *testing.T, v string) string {
	t.Helper()
	var port, maxAge int
	if _, err := fmt.Sscanf(v, `h3=":%d"; ma=%d`, &port, &maxAge); err != nil || maxAge <= 0 {
		t.Fatalf("Alt-Svc %q: %v", v, err)
	}
	return strconv.Itoa(port)
}
