package proxy

import (
	"context"
	"crypto/tls"
	"net/http"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/bouncer-proxy/bouncer/configs"
)

// newH3Transport speaks HTTP/3 to the endpoints (upstream protocol h3):
// one QUIC connection per endpoint, multiplexed, verified like h2 (the
// tls block's roots, server name and client certificate). The upstream's
// max_connections counts QUIC connections; a slot is given back when the
// connection ends. No 0-RTT: requests are never replayable by an
// attacker on the path to the upstream.
func newH3Transport(cfg configs.Upstream, tlsCfg *tls.Config, gate *gateRef) http.RoundTripper {
	tc := tlsCfg.Clone()
	tc.NextProtos = nil // http3 sets h3
	return &http3.Transport{
		TLSClientConfig:    tc,
		DisableCompression: true, // pass encodings through untouched
		QUICConfig: &quic.Config{
			HandshakeIdleTimeout: cfg.ConnectTimeout.D(),
			MaxIdleTimeout:       cfg.IdleTimeout.D(),
		},
		MaxResponseHeaderBytes: 1 << 20,
		Dial: func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
			release := func() {}
			if g := gate.get(); g != nil {
				r, ok := g.AcquireConn()
				if !ok {
					return nil, errCircuitOpen
				}
				release = r
			}
			conn, err := quic.DialAddr(ctx, addr, tc, qc)
			if err != nil {
				release()
				return nil, err
			}
			context.AfterFunc(conn.Context(), release)
			return conn, nil
		},
	}
}
