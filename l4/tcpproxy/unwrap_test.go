package tcpproxy

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/tls/certstest"
)

// Half-closing a TLS connection sends close_notify and then a TCP FIN: a
// peer reading the socket under its TLS layer sees the end of the stream
// instead of waiting.
func TestCloseWriteTLSSendsFIN(t *testing.T) {
	ca := certstest.NewCA(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{ca.TLSCert(t, "a.test")}})
		if err := tc.Handshake(); err != nil {
			served <- err
			return
		}
		if _, err := io.WriteString(tc, "bye"); err != nil {
			served <- err
			return
		}
		served <- closeWrite(tc)
		_, _ = io.Copy(io.Discard, tc) // the client's half stays open until it closes
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(5 * time.Second))
	client := tls.Client(raw, &tls.Config{ServerName: "a.test", RootCAs: ca.Pool})
	got, err := io.ReadAll(client) // to the close_notify
	if err != nil || string(got) != "bye" {
		t.Fatalf("over TLS: %q, %v", got, err)
	}
	if err := <-served; err != nil {
		t.Fatalf("server: %v", err)
	}
	n, err := raw.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("the socket under TLS after the half-close: %d bytes, %v; want EOF (a FIN)", n, err)
	}
}
