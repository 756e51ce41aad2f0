package testsvc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestPebble(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    PebbleOptions
		wantEAB bool
	}{
		{name: "plain"},
		{name: "eab", opts: PebbleOptions{EAB: map[string]string{"kid-1": "c2VjcmV0LWtleS1mb3ItdGVzdHMtMTIzNDU2Nzg5MA"}}, wantEAB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := StartPebble(t, tc.opts)
			checkDirectory(t, p, tc.wantEAB)
			root := p.RootCert(t)
			if err := root.CheckSignatureFrom(root); err != nil {
				t.Fatalf("root is not self-signed: %v", err)
			}
			if p.Roots(t) == nil {
				t.Fatal("no roots")
			}
			if n := p.Orders(); n != 0 {
				t.Fatalf("Orders() = %d before any order", n)
			}
			checkDNS(t, p)
		})
	}
}

// checkDirectory reads the ACME directory through APIRoots.
func checkDirectory(t *testing.T, p *Pebble, wantEAB bool) {
	t.Helper()
	b, err := p.get(p.Directory)
	if err != nil {
		t.Fatal(err)
	}
	var dir struct {
		NewOrder string `json:"newOrder"`
		Meta     struct {
			ExternalAccountRequired bool `json:"externalAccountRequired"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(b, &dir); err != nil {
		t.Fatalf("directory %s: %v", b, err)
	}
	if dir.NewOrder == "" || dir.Meta.ExternalAccountRequired != wantEAB {
		t.Fatalf("directory = %s, want newOrder and externalAccountRequired=%v", b, wantEAB)
	}
}

// checkDNS asks the mock DNS server for an A record (always 127.0.0.1)
// and for a TXT record set and then cleared through its management API.
func checkDNS(t *testing.T, p *Pebble) {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.DNSAddr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, "anything.example.test")
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
		t.Fatalf("LookupHost = %v, %v; want [127.0.0.1]", addrs, err)
	}
	const host = "_acme-challenge.dns.example.test"
	if err := p.SetTXT(host, "token-value"); err != nil {
		t.Fatal(err)
	}
	txt, err := r.LookupTXT(ctx, host)
	if err != nil || !slices.Equal(txt, []string{"token-value"}) {
		t.Fatalf("LookupTXT = %v, %v; want [token-value]", txt, err)
	}
	if err := p.ClearTXT(host); err != nil {
		t.Fatal(err)
	}
	if txt, err := r.LookupTXT(ctx, host); err == nil && len(txt) > 0 {
		t.Fatalf("LookupTXT after clear = %v", txt)
	}
}

// TestPebblePortTaken: a port grabbed by someone else between FreePort and
// the program binding it is reported as errPortTaken, which StartPebble
// answers by starting again on new ports.
func TestPebblePortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &Pebble{DNSAddr: loopback(FreePort(t)), ChallTestSrvURL: "http://" + ln.Addr().String(), client: http.DefaultClient}
	err = startChallTestSrv(t, Binary(t, "pebble-challtestsrv"), p)
	if !errors.Is(err, errPortTaken) {
		t.Fatalf("start on a taken port: %v, want errPortTaken", err)
	}
}
