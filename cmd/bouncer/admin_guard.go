package main

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// adminGuard keeps web pages out of the admin API. Cross-origin browser
// requests with unsafe methods (a form posted to /reload or /cache/purge)
// are refused, and on a loopback address so is any request whose Host is a
// name other than localhost: a page whose DNS name was rebound to 127.0.0.1
// must not read /config or /debug/pprof. Tools such as curl and Prometheus
// send no Origin and address the listener by IP or localhost.
func adminGuard(listenAddr string, next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	loopback := false
	if ap, err := netip.ParseAddrPort(listenAddr); err == nil {
		loopback = ap.Addr().IsLoopback()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if loopback && !localHost(r.Host) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the admin API on loopback answers only to Host localhost or an IP address"})
			return
		}
		if err := cop.Check(r); err != nil {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross-origin request refused: " + err.Error()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localHost reports whether a Host header names this machine without a
// DNS name that could point anywhere: an IP literal or localhost (or no
// Host at all).
func localHost(host string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(host)
	return err == nil
}
