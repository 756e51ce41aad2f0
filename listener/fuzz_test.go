package listener

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const fuzzMaxHead = 512

// FuzzStrict sends arbitrary bytes as one connection's stream, split into
// writes of a fuzzed size, to an http.Server behind the strict listener.
// Invariants: nothing panics, the connection ends, and the requests the
// handler saw are, in order, a prefix of the well-formed requests that an
// independent whole-buffer reference validator (refRequests) finds.
func FuzzStrict(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\"y\"\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /n HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(len(s)))
	}
	var mu sync.Mutex
	seen := map[string][]string{} // client address -> "METHOD URI"
	fx := startH1(f, Options{MaxHeaderBytes: fuzzMaxHead}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.RemoteAddr] = append(seen[r.RemoteAddr], r.Method+" "+r.RequestURI)
		mu.Unlock()
	}))
	f.Fuzz(func(t *testing.T, stream []byte, split uint16) {
		c, err := net.Dial("tcp", fx.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			step := 1 + int(split)%97
			for b := stream; len(b) > 0; b = b[min(step, len(b)):] {
				if _, err := c.Write(b[:min(step, len(b))]); err != nil {
					return
				}
			}
			_ = c.(*net.TCPConn).CloseWrite()
		}()
		readAll(t, c)
		mu.Lock()
		got := seen[c.LocalAddr().String()]
		delete(seen, c.LocalAddr().String())
		mu.Unlock()
		want := refRequests(string(stream), fuzzMaxHead)
		if len(got) > len(want) || strings.Join(got, "\n") != strings.Join(want[:len(got)], "\n") {
			t.Fatalf("handler saw %q; well-formed prefix is %q", got, want)
		}
	})
}

// refRequests is a deliberately plain, whole-buffer reading of the rules the
// strict parser enforces: it returns "METHOD target" of each request whose
// head is well-formed and which follows only well-formed requests.
func refRequests(s string, maxHead int) []string {
	var out []string
	for len(s) > 0 {
		end := strings.Index(s, "\r\n\r\n")
		if end < 0 || end+4 > maxHead {
			return out
		}
		lines := strings.Split(s[:end], "\r\n")
		s = s[end+4:]
		reqLine := strings.Split(lines[0], " ")
		if len(reqLine) != 3 || !refToken(reqLine[0]) || reqLine[1] == "" ||
			strings.IndexFunc(reqLine[1], func(r rune) bool { return r < '!' || r > '~' }) >= 0 ||
			len(reqLine[2]) != 8 || !strings.HasPrefix(reqLine[2], "HTTP/1.") || reqLine[2][7] < '0' || reqLine[2][7] > '9' {
			return out
		}
		fields, ok := refFields(lines[1:])
		if !ok {
			return out
		}
		cls, tes, hosts := fields["content-length"], fields["transfer-encoding"], fields["host"]
		http11 := reqLine[2] != "HTTP/1.0"
		if (http11 && len(hosts) != 1) || len(hosts) > 1 || len(tes) > 1 ||
			(len(tes) == 1 && (len(cls) > 0 || !http11 || !strings.EqualFold(tes[0], "chunked"))) {
			return out
		}
		n := 0
		for _, v := range cls {
			if v != cls[0] || len(v) == 0 || len(v) > 18 || strings.Trim(v, "0123456789") != "" {
				return out
			}
			n, _ = strconv.Atoi(v)
		}
		out = append(out, reqLine[0]+" "+reqLine[1])
		if len(tes) == 1 {
			if s, ok = refChunked(s, maxHead); !ok {
				return out
			}
		} else if len(s) < n {
			return out
		} else {
			s = s[n:]
		}
	}
	return out
}

// refFields checks field lines and returns the values by lower-case name.
func refFields(lines []string) (map[string][]string, bool) {
	m := map[string][]string{}
	for _, l := range lines {
		name, value, ok := strings.Cut(l, ":")
		if !ok || !refToken(name) || strings.IndexFunc(value, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
			return nil, false
		}
		name = strings.ToLower(name)
		m[name] = append(m[name], strings.Trim(value, " \t"))
	}
	return m, true
}

// refChunked skips a valid chunked body and its trailer section.
func refChunked(s string, maxHead int) (string, bool) {
	for {
		i := strings.Index(s, "\r\n")
		if i < 0 || i > maxChunkLine {
			return "", false
		}
		size, ext, _ := strings.Cut(s[:i], ";")
		if strings.ContainsAny(s[:i], "\r\n") || strings.IndexFunc(ext, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
			return "", false
		}
		n, err := strconv.ParseUint(size, 16, 64)
		if err != nil || len(size) > 16 || n > 1<<60 || strings.ContainsAny(size, "+-_xX") {
			return "", false
		}
		s = s[i+2:]
		if n == 0 {
			break
		}
		if uint64(len(s)) < n+2 || s[n:n+2] != "\r\n" {
			return "", false
		}
		s = s[n+2:]
	}
	end := strings.Index(s, "\r\n")
	if end == 0 {
		return s[2:], true
	}
	end = strings.Index(s, "\r\n\r\n")
	if end < 0 || end+4 > maxHead {
		return "", false
	}
	if _, ok := refFields(strings.Split(s[:end], "\r\n")); !ok {
		return "", false
	}
	return s[end+4:], true
}

func refToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(s[i])) &&
			!('0' <= s[i] && s[i] <= '9') && !('a' <= s[i] && s[i] <= 'z') && !('A' <= s[i] && s[i] <= 'Z') {
			return false
		}
	}
	return true
}

// The reference itself must agree with hand-checked streams, or the fuzz
// invariant proves nothing.
func TestRefRequests(t *testing.T) {
	cases := []struct {
		stream string
		want   int
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", 2},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nabGET / HTTP/1.1\r\n\r\n", 1},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;e\r\nab\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.0\r\n\r\n", 2},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n0\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 0},
		{"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0},
	}
	for _, tc := range cases {
		if got := refRequests(tc.stream, fuzzMaxHead); len(got) != tc.want {
			t.Errorf("%q: got %q, want %d requests", tc.stream, got, tc.want)
		}
	}
}
