// Package grpcweb translates gRPC-Web, the browser dialect of gRPC, into native gRPC for the
// handler behind it and the native answer back into gRPC-Web, following PROTOCOL-WEB.md of the
// grpc/grpc repository.
//
// Request bodies and response frames are streamed, never buffered whole. In text mode
// (application/grpc-web-text) the request body is base64-decoded on the fly and every response
// frame is base64-encoded as its own padded segment, flushed as soon as the frame is complete.
//
// CORS is the caller's business: put the CORS policy in front of Handler (preflight OPTIONS
// requests are not gRPC-Web and pass through untouched). Handler adds one thing: on the gRPC-Web
// responses it writes, when the response already carries Access-Control-Allow-Origin (the policy
// set it), it lists grpc-status, grpc-message and grpc-status-details-bin in
// Access-Control-Expose-Headers so that browser code can read a status sent in the headers of a
// trailers-only response.
package grpcweb

import (
	"net/http"
	"strings"
)

// variant is one gRPC-Web content type and its native gRPC counterpart.
type variant struct {
	web    string // media type the client sent, echoed on the response
	native string // media type given to the next handler
	text   bool   // base64 body (-text)
}

var variants = [...]variant{
	{web: "application/grpc-web", native: "application/grpc"},
	{web: "application/grpc-web+proto", native: "application/grpc+proto"},
	{web: "application/grpc-web-text", native: "application/grpc", text: true},
	{web: "application/grpc-web-text+proto", native: "application/grpc+proto", text: true},
}

// IsGRPCWeb reports whether r is a gRPC-Web request: its Content-Type is application/grpc-web,
// application/grpc-web+proto, application/grpc-web-text or application/grpc-web-text+proto,
// in any letter case, parameters allowed.
func IsGRPCWeb(r *http.Request) bool {
	return lookup(r.Header.Get("Content-Type")) != nil
}

// lookup returns the variant named by a Content-Type value, or nil.
func lookup(contentType string) *variant {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	for i := range variants {
		if strings.EqualFold(mt, variants[i].web) {
			return &variants[i]
		}
	}
	return nil
}

// isGRPC reports whether a response Content-Type is native gRPC (application/grpc or
// application/grpc+<codec>).
func isGRPC(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	const base = "application/grpc"
	if len(mt) < len(base) || !strings.EqualFold(mt[:len(base)], base) {
		return false
	}
	return len(mt) == len(base) || mt[len(base)] == '+'
}

// Handler returns a handler that passes requests that are not gRPC-Web to next untouched and
// translates gRPC-Web requests, from HTTP/1.1 or HTTP/2 clients, into native gRPC for next:
//
//   - Content-Type becomes application/grpc (or application/grpc+proto), TE is set to
//     "trailers", and X-Grpc-Web and X-User-Agent are removed;
//   - a binary body passes as is; a -text body is base64-decoded while next reads it, accepting
//     chunks split anywhere and concatenated padded segments. Before calling next, Handler reads
//     and checks what the client has already sent (one read of the body, so it may block until
//     the first bytes arrive): invalid base64 there is answered at once with gRPC status
//     INVALID_ARGUMENT, and next is not called. Invalid base64 found later fails the body read
//     given to next and ends the response with that status.
//
// The ResponseWriter given to next translates back. A native gRPC response (Content-Type
// application/grpc...) gets the client's gRPC-Web Content-Type, its message frames are streamed
// (base64-encoded in text mode) and flushed per frame, and its trailers, or for a trailers-only
// response the grpc-status, grpc-message and grpc-status-details-bin headers (which also stay in
// the headers), are sent as a final frame with flag 0x80 holding "name: value\r\n" lines with
// lower-case names. A native response that ends without grpc-status ends with INTERNAL; one that
// stops inside a frame is broken off (http.ErrAbortHandler), as no trailer frame can follow it.
// Any other response (say a plain 502 from a proxy) is passed as is. The HTTP status is next's:
// 200 for gRPC.
//
// Handler enables full-duplex HTTP/1.1 on the request, so that the client's body can still be
// read by next after the response has started.
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := lookup(r.Header.Get("Content-Type"))
		if v == nil {
			next.ServeHTTP(w, r)
			return
		}
		serve(next, w, r, v)
	})
}

// serve handles one gRPC-Web request of variant v.
func serve(next http.Handler, w http.ResponseWriter, r *http.Request, v *variant) {
	out := r.WithContext(r.Context())
	out.Header = r.Header.Clone()
	out.Header.Set("Content-Type", v.native)
	out.Header.Set("Te", "trailers")
	out.Header.Del("X-Grpc-Web")
	out.Header.Del("X-User-Agent")

	rw := newResponseWriter(w, v)
	if v.text && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		d := newTextDecoder(r.Body)
		if err := d.prime(); err != nil {
			writeStatus(w, v, statusTrailer(codeInvalidArgument, err.Error()))
			return
		}
		out.Body = d
		out.ContentLength = -1
		out.Header.Del("Content-Length")
		rw.dec = d
	}
	// Not supported on HTTP/2, where it is not needed.
	_ = rw.rc.EnableFullDuplex()
	defer rw.recoverAbort()
	next.ServeHTTP(rw, out)
	rw.finish()
}
