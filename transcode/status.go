package transcode

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/bouncer-proxy/bouncer/l7"
)

// HTTPStatus maps a gRPC status code to the HTTP status of a transcoded
// answer (the table of google/rpc/code.proto). Codes outside 0-16 are 500.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // client closed request
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	default: // Unknown, Internal, DataLoss and codes past 16
		return http.StatusInternalServerError
	}
}

// codeForHTTP is the gRPC code of a gateway error by its HTTP status, for
// the google.rpc.Status body of errors Bouncer makes itself.
func codeForHTTP(status int) codes.Code {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	default:
		return codes.Internal
	}
}

// resolver finds message types for Any values: first in the upstream's
// reflected files, then among the types linked into Bouncer (google.rpc
// error details).
type resolver struct{ own *protoregistry.Types }

func (r resolver) FindMessageByName(n protoreflect.FullName) (protoreflect.MessageType, error) {
	if r.own != nil {
		if t, err := r.own.FindMessageByName(n); err == nil {
			return t, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByName(n)
}

func (r resolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if r.own != nil {
		if t, err := r.own.FindMessageByURL(url); err == nil {
			return t, nil
		}
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r resolver) FindExtensionByName(n protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if r.own != nil {
		if t, err := r.own.FindExtensionByName(n); err == nil {
			return t, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByName(n)
}

func (r resolver) FindExtensionByNumber(m protoreflect.FullName, n protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if r.own != nil {
		if t, err := r.own.FindExtensionByNumber(m, n); err == nil {
			return t, nil
		}
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(m, n)
}

// parseStatus reads a call's outcome from its trailers (or, for a
// trailers-only answer, its headers): grpc-status, grpc-message
// (percent-encoded) and grpc-status-details-bin (a google.rpc.Status).
// ok is false when grpc-status is missing or not a number.
func parseStatus(h http.Header) (st *status.Status, ok bool) {
	raw := h.Get("Grpc-Status")
	code, err := strconv.ParseUint(raw, 10, 32)
	if raw == "" || err != nil {
		return nil, false
	}
	st = &status.Status{Code: int32(code), Message: decodeGRPCMessage(h.Get("Grpc-Message"))}
	if bin := h.Get("Grpc-Status-Details-Bin"); bin != "" {
		if b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(bin, "=")); err == nil {
			var full status.Status
			if proto.Unmarshal(b, &full) == nil && full.Code == st.Code {
				st.Details = full.Details
				if st.Message == "" {
					st.Message = full.Message
				}
			}
		}
	}
	return st, true
}

// decodeGRPCMessage undoes grpc-message's percent-encoding; a malformed
// escape is kept as it is.
func decodeGRPCMessage(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// writeStatus answers with st as google.rpc.Status JSON. The request id is
// added as a google.rpc.RequestInfo detail; details whose type cannot be
// resolved are left out rather than failing the answer.
func writeStatus(w http.ResponseWriter, r *http.Request, httpStatus int, st *status.Status, types *protoregistry.Types) {
	res := resolver{own: types}
	// protojson refuses invalid UTF-8; messages may quote client bytes.
	out := &status.Status{Code: st.Code, Message: strings.ToValidUTF8(st.Message, "\uFFFD")}
	for _, d := range st.Details {
		if _, err := res.FindMessageByURL(d.TypeUrl); err == nil {
			out.Details = append(out.Details, d)
		}
	}
	if id := l7.RequestIDFrom(r.Context()); id != "" {
		if a, err := anypb.New(&errdetails.RequestInfo{RequestId: id}); err == nil {
			out.Details = append(out.Details, a)
		}
	}
	body, err := protojson.MarshalOptions{Resolver: res}.Marshal(out)
	if err != nil { // a detail that resolves but does not marshal: drop them all
		out.Details = nil
		body, _ = protojson.Marshal(out)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
	if info := l7.InfoFrom(r.Context()); info != nil && httpStatus >= 500 {
		info.Err = l7.Errorf(httpStatus, codes.Code(st.Code).String(), "%s", st.Message)
	}
}

// writeError answers with an error Bouncer made itself, in the same
// google.rpc.Status form as the upstream's errors, so a transcoded API
// has one error shape. details are google.rpc detail messages.
func writeError(w http.ResponseWriter, r *http.Request, httpStatus int, msg string, details ...proto.Message) {
	st := &status.Status{Code: int32(codeForHTTP(httpStatus)), Message: msg}
	for _, d := range details {
		if a, err := anypb.New(d); err == nil {
			st.Details = append(st.Details, a)
		}
	}
	writeStatus(w, r, httpStatus, st, nil)
}

// fieldViolation is a google.rpc.BadRequest naming the field at fault.
func fieldViolation(field, desc string) proto.Message {
	return &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}
}
