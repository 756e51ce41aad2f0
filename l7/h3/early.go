package h3

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"net/http"

	"github.com/quic-go/quic-go/http3"
)

// guardEarlyData wraps the handler of a server that accepts 0-RTT. A
// request that arrived before the handshake completed (r.TLS, taken when
// the request headers were read, has HandshakeComplete false) can be a
// replay: an unsafe method gets 425 Too Early, which tells the client to
// retry after the handshake (RFC 8470 section 5.2); a safe one is served
// with "Early-Data: 1" added, so that an upstream can refuse it too
// (section 5.1).
func guardEarlyData(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || r.TLS.HandshakeComplete {
			next.ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			r.Header.Set("Early-Data", "1")
			next.ServeHTTP(w, r)
		default:
			// The gateway's error shape (package l7 renders the others).
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusTooEarly)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"status": http.StatusTooEarly, "code": "TOO_EARLY",
				"message": r.Method + " sent in 0-RTT early data, which can be replayed: send it again after the handshake",
			}})
		}
	})
}

// ticketTag marks the session ticket extra that records the header limit
// a ticket was issued under.
var ticketTag = []byte("bouncer h3 max-field-section-size ")

// serverTLS is base cloned for HTTP/3 (ALPN "h3", TLS 1.3 through QUIC).
// Its session tickets remember maxHeader: a client sending 0-RTT uses the
// SETTINGS of the connection the ticket came from (RFC 9114 section
// 7.2.4.2), so a ticket from a server with a larger limit than this one's
// resumes without early data.
func serverTLS(base *tls.Config, maxHeader int) *tls.Config {
	c := http3.ConfigureTLSConfig(base)
	extra := binary.BigEndian.AppendUint64(bytes.Clone(ticketTag), uint64(maxHeader))
	wrap, unwrap := c.WrapSession, c.UnwrapSession
	if wrap == nil {
		wrap = c.EncryptTicket
	}
	if unwrap == nil {
		unwrap = c.DecryptTicket
	}
	c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(ss.Extra, extra)
		return wrap(cs, ss)
	}
	c.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := unwrap(identity, cs)
		if err != nil || ss == nil || !ss.EarlyData {
			return ss, err
		}
		ss.EarlyData = ticketLimit(ss.Extra) <= uint64(maxHeader)
		return ss, nil
	}
	return c
}

// ticketLimit is the header limit recorded in a ticket's extras, or the
// largest value when none is (an unknown ticket may not use early data).
func ticketLimit(extras [][]byte) uint64 {
	for _, e := range extras {
		if v, ok := bytes.CutPrefix(e, ticketTag); ok && len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return ^uint64(0)
}
