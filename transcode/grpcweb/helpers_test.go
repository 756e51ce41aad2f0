package grpcweb

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// frame returns a gRPC length-prefixed frame.
func frame(flag byte, payload []byte) []byte {
	b := make([]byte, 5, 5+len(payload))
	b[0] = flag
	binary.BigEndian.PutUint32(b[1:], uint32(len(payload)))
	return append(b, payload...)
}

// rawRequest is an HTTP/1.1 request written byte by byte by the test.
type rawRequest struct {
	path   string
	header map[string]string
	body   []byte   // sent with Content-Length
	chunks [][]byte // sent chunked instead, when not nil
}

// send writes req on a new connection to addr and returns the response, whose body streams
// from the connection. The connection has a deadline, so a stuck test fails instead of hanging.
func send(t *testing.T, addr string, req rawRequest) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\n", req.path, addr)
	for k, v := range req.header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	if req.chunks != nil {
		head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", len(req.body))
	}
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	if req.chunks == nil {
		if _, err := conn.Write(req.body); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range req.chunks {
		if _, err := fmt.Fprintf(conn, "%x\r\n%s\r\n", len(c), c); err != nil {
			t.Fatal(err)
		}
	}
	if req.chunks != nil {
		if _, err := io.WriteString(conn, "0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// webFrame is one decoded gRPC-Web response frame.
type webFrame struct {
	flag byte
	data []byte
}

// readFrame reads the next frame of a gRPC-Web body; text mode expects every frame to be its own
// padded base64 segment, as Handler writes them.
func readFrame(t *testing.T, r io.Reader, text bool) (webFrame, error) {
	t.Helper()
	if !text {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return webFrame{}, err
		}
		data := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
		if _, err := io.ReadFull(r, data); err != nil {
			return webFrame{}, fmt.Errorf("frame payload: %w", err)
		}
		return webFrame{flag: hdr[0], data: data}, nil
	}
	first := make([]byte, 8) // 6 bytes: the header and a byte, or a padded header alone
	if _, err := io.ReadFull(r, first); err != nil {
		return webFrame{}, err
	}
	dec := decodeGroups(t, first)
	n := int(binary.BigEndian.Uint32(dec[1:5]))
	encLen := (5 + n + 2) / 3 * 4
	rest := make([]byte, encLen-len(first))
	if _, err := io.ReadFull(r, rest); err != nil {
		return webFrame{}, fmt.Errorf("frame payload: %w", err)
	}
	all := decodeGroups(t, append(first, rest...))
	if len(all) != 5+n {
		return webFrame{}, fmt.Errorf("frame decodes to %d bytes, header says %d", len(all), 5+n)
	}
	return webFrame{flag: all[0], data: all[5:]}, nil
}

// readAllFrames reads frames until the trailer frame, which must end the body.
func readAllFrames(t *testing.T, r io.Reader, text bool) (msgs [][]byte, trailers map[string][]string) {
	t.Helper()
	for {
		f, err := readFrame(t, r, text)
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		if f.flag&trailerFlag == 0 {
			msgs = append(msgs, f.data)
			continue
		}
		if extra, _ := io.ReadAll(r); len(extra) > 0 {
			t.Fatalf("%d bytes after the trailer frame", len(extra))
		}
		return msgs, parseTrailers(t, f.data)
	}
}

// parseTrailers parses a trailer frame payload, requiring lower-case names and CRLF lines.
func parseTrailers(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("trailer block %q does not end in CRLF", b)
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok || k != strings.ToLower(k) {
			t.Fatalf("bad trailer line %q", line)
		}
		out[k] = append(out[k], v)
	}
	return out
}

// encodeText base64-encodes b for a -text request.
func encodeText(b []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(b))
}
