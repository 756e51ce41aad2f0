package listener

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStrictServesValidStreams(t *testing.T) {
	f := startH1(t, Options{}, nil)
	chunked := "POST /c HTTP/1.1\r\n" + hostA + "Transfer-Encoding: Chunked\r\nTrailer: X-Trailer\r\n\r\n" +
		"5;name=val;q=\"a b\"\r\nhello\r\n6;x\r\n world\r\n0;last\r\nX-Trailer: t\r\n\r\n"
	cases := []struct {
		name string
		reqs []string // sent one after another; each answered before the next
		want []string
	}{
		{"keep-alive", []string{
			"GET /1 HTTP/1.1\r\n" + hostA + "\r\n",
			"GET /2?q=1 HTTP/1.1\r\nhost: a\r\nX-Obs: caf\xc3\xa9\t \r\n\r\n",
			"DELETE /3 HTTP/1.1\r\n" + hostA + "Content-Length: 0\r\nContent-Length: 0\r\n\r\n",
		}, []string{"GET /1 ", "GET /2?q=1 ", "DELETE /3 "}},
		{"pipelined", []string{
			"GET /1 HTTP/1.1\r\n" + hostA + "\r\nPOST /2 HTTP/1.1\r\n" + hostA + "Content-Length: 3\r\n\r\nabc" +
				"PUT /3 HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n",
		}, []string{"GET /1 ", "POST /2 abc", "PUT /3 xy"}},
		{"chunked with extensions and trailers", []string{chunked}, []string{"POST /c hello world"}},
		{"http/1.0 without host", []string{"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"}, []string{"GET /old "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, f.addr)
			br := bufio.NewReader(c)
			var got []string
			for _, r := range tc.reqs {
				if _, err := io.WriteString(c, r); err != nil {
					t.Fatal(err)
				}
				n := strings.Count(r, " HTTP/1.")
				for _, resp := range readResponses(t, br, n) {
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("status %d", resp.StatusCode)
					}
					got = append(got, bodyOf(t, resp))
					if tr := resp.Header.Get("X-Got-Trailer"); strings.Contains(r, "X-Trailer: t") && tr != "t" {
						t.Fatalf("trailer %q", tr)
					}
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// Every request is also served when it arrives one byte at a time, which
// splits every head across reads.
func TestStrictByteAtATime(t *testing.T) {
	f := startH1(t, Options{}, nil)
	c := dial(t, f.addr)
	stream := "POST /a HTTP/1.1\r\n" + hostA + "Content-Length: 2\r\n\r\nhi" +
		"POST /b HTTP/1.1\r\n" + hostA + "Transfer-Encoding: chunked\r\n\r\n1;e=1\r\nz\r\n0\r\nT: 1\r\n\r\n" +
		"GET /bad HTTP/1.1\r\n" + hostA + "Host: b\r\n\r\n"
	for i := range len(stream) {
		if _, err := c.Write([]byte{stream[i]}); err != nil {
			break // the server may close once it sees the bad head
		}
	}
	br := bufio.NewReader(c)
	resps := readResponses(t, br, 2)
	if a, b := bodyOf(t, resps[0]), bodyOf(t, resps[1]); a != "POST /a hi" || b != "POST /b z" {
		t.Fatalf("got %q, %q", a, b)
	}
	rest, _ := io.ReadAll(br)
	checkRefusal(t, string(rest), http.StatusBadRequest)
}

func TestStrictExpectContinue(t *testing.T) {
	f := startH1(t, Options{}, nil)
	c := dial(t, f.addr)
	head := "PUT /up HTTP/1.1\r\n" + hostA + "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	if blank, err := br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("got %q, %v", blank, err)
	}
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	if got := bodyOf(t, readResponses(t, br, 1)[0]); got != "PUT /up hello" {
		t.Fatalf("got %q", got)
	}
}

// upgradeHandler switches /ws to a raw echo tunnel and refuses /no.
func upgradeHandler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			http.Error(w, "no upgrade here", http.StatusForbidden)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nhello from server\n")
		_ = brw.Flush()
		_, _ = io.Copy(conn, brw) // echo what the client sends, until it closes
	})
}

func TestStrictUpgradeBecomesOpaque(t *testing.T) {
	f := startH1(t, Options{}, upgradeHandler(t))
	c := dial(t, f.addr)
	req := "GET /ws HTTP/1.1\r\n" + hostA + "Connection: keep-alive, Upgrade\r\nUpgrade: test\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("got %v, %v", resp, err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "hello from server\n" {
		t.Fatalf("got %q, %v", line, err)
	}
	raw := "\x81\x05bare\nLF \x00 and GET / HTTP/1.1\r\nTransfer-Encoding: x\r\n\r\n"
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(raw))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != raw {
		t.Fatalf("echo %q, %v", got, err)
	}
}

// A refused upgrade leaves the connection HTTP: what follows is validated.
func TestStrictRefusedUpgradeKeepsValidating(t *testing.T) {
	f := startH1(t, Options{}, upgradeHandler(t))
	c := dial(t, f.addr)
	req := "GET /no HTTP/1.1\r\n" + hostA + "Connection: Upgrade\r\nUpgrade: test\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if resp := readResponses(t, br, 1)[0]; resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d", resp.StatusCode)
	}
	smuggle := "GET /ws HTTP/1.1\r\n" + hostA + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
	if _, err := io.WriteString(c, smuggle); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	checkRefusal(t, string(rest), http.StatusBadRequest)
}
