package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
)

// tcpExpectLimit bounds how much of a reply a tcp check reads looking for
// its expect bytes.
const tcpExpectLimit = 64 << 10

// probeTCP connects to the endpoint (with a TLS handshake when the
// upstream has tls), writes the policy's send bytes and reads until the
// reply contains its expect bytes. ctx bounds the whole check.
func (c *Cluster) probeTCP(ctx context.Context, m member) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.ep.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if c.tcpTLS != nil {
		tc := tls.Client(conn, c.tcpTLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	hp := c.health
	if len(hp.send) > 0 {
		if _, err := conn.Write(hp.send); err != nil {
			return err
		}
	}
	if len(hp.expect) == 0 {
		return nil
	}
	buf := make([]byte, 0, 512)
	for len(buf) < tcpExpectLimit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, hp.expect) {
			return nil
		}
		if err == io.EOF {
			return fmt.Errorf("closed before replying %q", hp.expect)
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("no %q in the first %d bytes of the reply", hp.expect, tcpExpectLimit)
}
