package grpcweb

import (
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
)

// trailerFlag marks a gRPC-Web frame holding trailers instead of a message.
const trailerFlag = 0x80

var (
	codeInvalidArgument = strconv.Itoa(int(codes.InvalidArgument))
	codeInternal        = strconv.Itoa(int(codes.Internal))
)

// statusKeys are the trailers that carry a gRPC status, in canonical header form.
var statusKeys = [...]string{"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin"}

// exposed lists statusKeys for Access-Control-Expose-Headers.
const exposed = "grpc-status, grpc-message, grpc-status-details-bin"

// statusTrailer returns trailers holding a gRPC status code and a message made of printable
// ASCII other than '%', which therefore needs no percent-encoding.
func statusTrailer(code, msg string) map[string][]string {
	return map[string][]string{"grpc-status": {code}, "grpc-message": {msg}}
}

// trailerFrame encodes trailers, keyed by lower-case name, as a gRPC-Web trailer frame: sorted
// "name: value\r\n" lines. A value holding CR, LF or NUL would break the block and is dropped.
func trailerFrame(t map[string][]string) []byte {
	keys := make([]string, 0, len(t))
	size := 5
	for k, vv := range t {
		keys = append(keys, k)
		for _, v := range vv {
			size += len(k) + len(v) + 4
		}
	}
	slices.Sort(keys)
	b := make([]byte, 5, size)
	b[0] = trailerFlag
	for _, k := range keys {
		for _, v := range t[k] {
			if strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	binary.BigEndian.PutUint32(b[1:5], uint32(len(b)-5))
	return b
}

// writeStatus answers a gRPC-Web request with HTTP 200 and a lone trailer frame, as a gRPC-Web
// server does for a call that fails before any message.
func writeStatus(w http.ResponseWriter, v *variant, t map[string][]string) {
	h := w.Header()
	h.Set("Content-Type", v.web)
	h.Del("Content-Length")
	h.Del("Trailer")
	exposeStatus(h)
	w.WriteHeader(http.StatusOK)
	frame := trailerFrame(t)
	if v.text {
		frame = base64.StdEncoding.AppendEncode(nil, frame)
	}
	// A write error means the client is gone; there is no one left to tell.
	_, _ = w.Write(frame)
	_ = http.NewResponseController(w).Flush()
}

// exposeStatus adds the status trailers to Access-Control-Expose-Headers when the response
// carries Access-Control-Allow-Origin and does not list them all already.
func exposeStatus(h http.Header) {
	if h.Get("Access-Control-Allow-Origin") == "" {
		return
	}
	listed := h.Values("Access-Control-Expose-Headers")
	var missing []string
	for _, k := range statusKeys {
		if !tokenListed(listed, k) {
			missing = append(missing, strings.ToLower(k))
		}
	}
	if len(missing) == len(statusKeys) {
		h.Add("Access-Control-Expose-Headers", exposed)
	} else if len(missing) > 0 {
		h.Add("Access-Control-Expose-Headers", strings.Join(missing, ", "))
	}
}

// tokenListed reports whether name appears, in any case, in comma-separated header values.
func tokenListed(values []string, name string) bool {
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), name) {
				return true
			}
		}
	}
	return false
}
