package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

const (
	sigV1       = "PROXY "
	sigV2       = "\r\n\r\n\x00\r\nQUIT\n"
	maxV1       = 107 // longest v1 line, CRLF included (spec section 2.1)
	v2Prefix    = 16  // signature, ver/cmd, fam, len
	unixPathLen = 108 // sun_path size in the v2 Unix address block
)

// Read consumes one PROXY header from the start of r and returns it. It
// returns a nil header and nil error when the stream does not start with a
// v1 or v2 signature, including when it ends first; the caller decides by
// its policy what that means. Read never consumes bytes past the header:
// whatever follows stays in r. It never waits for more bytes than it needs
// to decide, so a peer that sends a short message and waits is answered.
// Malformed
// headers yield errors wrapping ErrInvalid; I/O errors (timeouts included)
// are wrapped. r's buffer must hold at least 107 bytes (bufio's default does).
func Read(r *bufio.Reader) (*Header, error) {
	v, err := detect(r)
	if err != nil {
		return nil, fmt.Errorf("proxyproto: reading signature: %w", err)
	}
	return readVersion(r, v)
}

// readVersion reads the header whose signature detect found (v 1 or 2).
func readVersion(r *bufio.Reader, v int) (*Header, error) {
	switch v {
	case 1:
		return readV1(r)
	case 2:
		return readV2(r)
	}
	return nil, nil
}

// detect peeks one byte at a time until the bytes so far match neither
// signature (0) or match one completely (1 or 2). It consumes nothing.
func detect(r *bufio.Reader) (int, error) {
	for n := 1; n <= len(sigV2); n++ {
		b, err := r.Peek(n)
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		v1 := n <= len(sigV1) && string(b) == sigV1[:n]
		v2 := string(b) == sigV2[:n]
		switch {
		case v1 && n == len(sigV1):
			return 1, nil
		case v2 && n == len(sigV2):
			return 2, nil
		case !v1 && !v2:
			return 0, nil
		}
	}
	return 0, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// truncated reports a stream that ended inside a header as invalid, and
// passes other I/O errors through.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: stream ended inside the header: %w", ErrInvalid, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("proxyproto: reading header: %w", err)
}

// readV1 finds the line end within 107 bytes, asking r for more only when
// every buffered byte has been searched, then parses and discards the line.
func readV1(r *bufio.Reader) (*Header, error) {
	if r.Size() < maxV1 {
		return nil, fmt.Errorf("proxyproto: bufio.Reader of %d bytes is smaller than a v1 line", r.Size())
	}
	want := len(sigV1) + 1
	for {
		b, err := r.Peek(want)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			h, perr := parseV1(b[:i+1])
			if perr != nil {
				return nil, perr
			}
			_, _ = r.Discard(i + 1)
			return h, nil
		}
		if err != nil {
			return nil, truncated(err)
		}
		if want == maxV1 {
			return nil, invalid("v1 line longer than %d bytes", maxV1)
		}
		want = min(max(want+1, r.Buffered()), maxV1)
	}
}

// parseV1 checks one complete line, "\r\n" included (spec section 2.1):
// exact tokens, single spaces, addresses of the named family, canonical ports.
func parseV1(line []byte) (*Header, error) {
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, invalid("v1 line does not end in CRLF")
	}
	s := string(line[:len(line)-2])
	rest, ok := strings.CutPrefix(s, sigV1)
	if !ok {
		return nil, invalid("v1 line does not start with %q", sigV1)
	}
	if rest == "UNKNOWN" || strings.HasPrefix(rest, "UNKNOWN ") {
		// The receiver must ignore whatever follows UNKNOWN.
		return &Header{Version: 1, Command: Local, Transport: Unspec}, nil
	}
	f := strings.Split(rest, " ")
	if len(f) != 5 {
		return nil, invalid("v1 line has %d fields after PROXY, want 5", len(f))
	}
	var t Transport
	switch f[0] {
	case "TCP4":
		t = TCP4
	case "TCP6":
		t = TCP6
	default:
		return nil, invalid("v1 protocol %q", f[0])
	}
	src, err := parseV1Addr(t, f[1])
	if err != nil {
		return nil, err
	}
	dst, err := parseV1Addr(t, f[2])
	if err != nil {
		return nil, err
	}
	sp, err := parseV1Port(f[3])
	if err != nil {
		return nil, err
	}
	dp, err := parseV1Port(f[4])
	if err != nil {
		return nil, err
	}
	return &Header{
		Version: 1, Command: Proxy, Transport: t,
		Source:      netip.AddrPortFrom(src, sp),
		Destination: netip.AddrPortFrom(dst, dp),
	}, nil
}

func parseV1Addr(t Transport, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, invalid("v1 address %q", s)
	}
	if (t == TCP4) != a.Is4() || a.Zone() != "" {
		return netip.Addr{}, invalid("v1 address %q is not %s", s, t)
	}
	return a, nil
}

func parseV1Port(s string) (uint16, error) {
	if s == "" || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return 0, invalid("v1 port %q", s)
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, invalid("v1 port %q", s)
		}
		n = n*10 + int(c-'0')
	}
	if n > 0xFFFF {
		return 0, invalid("v1 port %q out of range", s)
	}
	return uint16(n), nil
}

// readV2 checks the fixed 16 bytes before reading the rest, so a bad
// version, command or family is refused without waiting for the body.
func readV2(r *bufio.Reader) (*Header, error) {
	pre, err := r.Peek(v2Prefix)
	if err != nil {
		return nil, truncated(err)
	}
	n, err := checkV2Prefix(pre)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, truncated(err)
	}
	return parseV2(buf)
}

// checkV2Prefix validates bytes 13-16 and returns the whole header length.
func checkV2Prefix(pre []byte) (int, error) {
	if pre[12]>>4 != 2 {
		return 0, invalid("v2 version %d", pre[12]>>4)
	}
	cmd := Command(pre[12] & 0x0F)
	if cmd != Local && cmd != Proxy {
		return 0, invalid("v2 command %#x", byte(cmd))
	}
	n := int(binary.BigEndian.Uint16(pre[14:16]))
	if cmd == Local {
		return v2Prefix + n, nil // the whole block is skipped (section 2.2)
	}
	alen, ok := Transport(pre[13]).addrLen()
	if !ok {
		return 0, invalid("v2 family/transport %#x", pre[13])
	}
	if n < alen {
		return 0, invalid("v2 length %d below the %d address bytes of %s", n, alen, Transport(pre[13]))
	}
	return v2Prefix + n, nil
}

// parseV2 decodes a complete v2 header: buf holds exactly 16+len bytes.
func parseV2(buf []byte) (*Header, error) {
	if _, err := checkV2Prefix(buf); err != nil {
		return nil, err
	}
	h := &Header{Version: 2, Command: Command(buf[12] & 0x0F)}
	if h.Command == Local {
		return h, nil // the receiver must use the real endpoints
	}
	h.Transport = Transport(buf[13])
	alen, _ := h.Transport.addrLen()
	body := buf[v2Prefix:]
	parseV2Addrs(h, body[:alen])
	tlvs, err := parseTLVs(body[alen:])
	if err != nil {
		return nil, err
	}
	if err := verifyCRC(buf, v2Prefix+alen, tlvs); err != nil {
		return nil, err
	}
	h.TLVs = tlvs
	return h, nil
}

func parseV2Addrs(h *Header, a []byte) {
	port := func(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
	switch h.Transport {
	case TCP4, UDP4:
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), port(a[8:10]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), port(a[10:12]))
	case TCP6, UDP6:
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), port(a[32:34]))
		h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), port(a[34:36]))
	case UnixStream, UnixDgram:
		h.SourcePath = cString(a[:unixPathLen])
		h.DestinationPath = cString(a[unixPathLen:])
	}
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
