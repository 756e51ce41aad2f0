package h3

import (
	"net/http"

	"github.com/bouncer-proxy/bouncer/l7/internal/onhead"
)

// AdvertiseAltSvc wraps h so that responses over HTTP/1.1 and h2 carry
// "Alt-Svc: value()" (omitted while value returns ""), and responses over
// HTTP/3 none. An Alt-Svc header the handler set, such as one copied from
// an upstream's response, is removed on every protocol: only this server
// knows where it serves HTTP/3. value is called once per response, from
// the handler's goroutine; pass (*Server).AltSvc.
func AdvertiseAltSvc(h http.Handler, value func() string) http.Handler {
	advertise := &altSvc{value: value}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var hook onhead.Hook = advertise
		if r.ProtoMajor >= 3 {
			hook = dropAltSvc{}
		}
		aw := onhead.New(w, hook)
		h.ServeHTTP(aw, r)
		aw.Finish()
	})
}

// altSvc replaces the handler's Alt-Svc with this server's.
type altSvc struct{ value func() string }

func (a *altSvc) Head(h http.Header) {
	delete(h, "Alt-Svc")
	if v := a.value(); v != "" {
		h["Alt-Svc"] = []string{v}
	}
}

// dropAltSvc removes the handler's Alt-Svc from an HTTP/3 response.
type dropAltSvc struct{}

func (dropAltSvc) Head(h http.Header) { delete(h, "Alt-Svc") }
