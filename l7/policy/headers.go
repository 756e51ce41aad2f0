package policy

import (
	"net/http"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/l7"
	"github.com/bouncer-proxy/bouncer/l7/internal/onhead"
)

// headers applies a headers policy: request changes before the request
// goes on, response changes just before the response head is written.
func headers(c *configs.HeadersPolicy) func(http.Handler) http.Handler {
	var req, resp *l7.HeaderOps
	if c.Request != nil {
		req = l7.NewHeaderOps(c.Request)
	}
	if c.Response != nil {
		resp = l7.NewHeaderOps(c.Response)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if req != nil {
				req.Apply(r.Header)
			}
			if resp == nil {
				next.ServeHTTP(w, r)
				return
			}
			hw := onhead.New(w, (*responseOps)(resp))
			next.ServeHTTP(hw, r)
			hw.Finish()
		})
	}
}

// responseOps applies response header changes as an onhead hook.
type responseOps l7.HeaderOps

func (o *responseOps) Head(h http.Header) { (*l7.HeaderOps)(o).Apply(h) }
