package listener

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Violation is why the strict HTTP/1.1 validator refused a request. It is
// returned (inside a *net.OpError with Op "read") from the Read of a strict
// connection; a violation in a request body reaches the handler as a body
// read error, which callers may test with errors.As.
type Violation struct {
	Status int    // 400, or 431 for an over-long head; 0: not HTTP/1.x at all, closed without a response
	Reason string // constant text, never echoes client bytes
}

// Error implements error.
func (v *Violation) Error() string {
	return "listener: rejected request: " + v.Reason
}

// response renders the JSON error the client receives before the close.
// It allocates, but only once per rejected connection.
func (v *Violation) response() []byte {
	code := "BAD_REQUEST"
	if v.Status == http.StatusRequestHeaderFieldsTooLarge {
		code = "REQUEST_HEADER_FIELDS_TOO_LARGE"
	}
	var doc struct {
		Error struct {
			Status  int    `json:"status"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	doc.Error.Status, doc.Error.Code, doc.Error.Message = v.Status, code, v.Reason
	body, _ := json.Marshal(doc) // a struct of strings and ints cannot fail
	head := "HTTP/1.1 " + strconv.Itoa(v.Status) + " " + http.StatusText(v.Status) +
		"\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n"
	return append([]byte(head), body...)
}

func bad(reason string) *Violation {
	return &Violation{Status: http.StatusBadRequest, Reason: reason}
}

// The violations, allocated once. RFC 9112 sections are cited where the rule
// comes from.
var (
	errHeadTooLarge = &Violation{Status: http.StatusRequestHeaderFieldsTooLarge, Reason: "request head too large"}
	errBareLF       = bad("bare LF line ending (RFC 9112 2.2: lines end with CRLF)")
	errBareCR       = bad("CR not followed by LF")
	errEmptyLine    = bad("empty line before the request line")
	errMethod       = bad("invalid character in method")
	errTarget       = bad("invalid character in request target")
	errRequestLine  = bad("request line is not METHOD SP target SP HTTP-version")
	errVersion      = bad("unsupported HTTP version (want HTTP/1.x)")
	// A request line whose third word does not start with "HTTP/" is not
	// HTTP/1.x (RFC 9112 2.3): such a peer cannot read an HTTP/1.1
	// response, so it gets none. This is also how a listener that serves
	// HTTP/1.1 and h2c answers a broken HTTP/2 preface: it closes
	// (RFC 9113 3.4).
	errNotHTTP      = &Violation{Reason: "request line has no HTTP/ version: not HTTP/1.x"}
	errObsFold      = bad("obsolete line folding (RFC 9112 5.2)")
	errNameSpace    = bad("whitespace between field name and colon (RFC 9112 5.1)")
	errFieldName    = bad("invalid character in field name")
	errEmptyName    = bad("empty field name")
	errNoColon      = bad("field line without a colon")
	errValueCtl     = bad("control character in field value")
	errCLInvalid    = bad("invalid Content-Length")
	errCLDiffer     = bad("multiple differing Content-Length values")
	errTEValue      = bad("unsupported Transfer-Encoding (only a single chunked is accepted)")
	errTEDup        = bad("repeated Transfer-Encoding")
	errTEAndCL      = bad("both Transfer-Encoding and Content-Length (RFC 9112 6.1)")
	errTE10         = bad("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 6.1)")
	errNoHost       = bad("HTTP/1.1 request without Host (RFC 9112 3.2)")
	errHostDup      = bad("more than one Host field (RFC 9112 3.2)")
	errChunkSize    = bad("invalid chunk size")
	errChunkExt     = bad("invalid chunk extension")
	errChunkLine    = bad("chunk line too long")
	errChunkData    = bad("chunk data not followed by CRLF")
	errTrailerLarge = bad("trailer section too large")
)
