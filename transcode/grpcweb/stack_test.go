package grpcweb

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// testService implements the TestService methods the tests call.
type testService struct {
	testpb.UnimplementedTestServiceServer
	release chan struct{} // when set, StreamingOutputCall waits on it after its first message
}

// UnaryCall echoes the payload with header and trailer metadata. With ResponseStatus set it
// fails with that status: trailers-only, or after sending headers and with error details when
// FillServerId is set.
func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	saw := "clean"
	if len(md["x-grpc-web"]) > 0 || len(md["x-user-agent"]) > 0 {
		saw = "grpc-web headers leaked"
	}
	if st := req.GetResponseStatus(); st != nil {
		if !req.GetFillServerId() {
			return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
		}
		if err := grpc.SendHeader(ctx, metadata.Pairs("x-early", "yes")); err != nil {
			return nil, err
		}
		sd, err := status.New(codes.Code(st.GetCode()), st.GetMessage()).WithDetails(
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: "payload", Description: "too dull"},
			}})
		if err != nil {
			return nil, err
		}
		return nil, sd.Err()
	}
	if err := grpc.SetHeader(ctx, metadata.Pairs("x-echo-header", "h", "x-saw", saw)); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, metadata.Pairs("x-echo-trailer", "t1", "x-echo-trailer", "t2",
		"x-bin-bin", string([]byte{0, 1, 0xfe}))); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: req.GetPayload()}, nil
}

// StreamingOutputCall sends one message per response parameter, of the size asked, filled with
// the message's index.
func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest,
	stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	stream.SetTrailer(metadata.Pairs("x-stream", "done"))
	for i, p := range req.GetResponseParameters() {
		body := make([]byte, p.GetSize())
		for j := range body {
			body[j] = byte(i)
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body}}); err != nil {
			return err
		}
		if i == 0 && s.release != nil {
			select {
			case <-s.release:
			case <-stream.Context().Done():
				return stream.Context().Err()
			}
		}
	}
	return nil
}

// stack is a grpc-go server behind an h2c reverse proxy behind Handler, served over HTTP/1.1.
type stack struct {
	addr    string       // the front server
	reached atomic.Int32 // requests that got past Handler
	svc     *testService
}

func newStack(t *testing.T, svc *testService) *stack {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	testpb.RegisterTestServiceServer(gs, svc)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)

	target := &url.URL{Scheme: "http", Host: lis.Addr().String()}
	tr := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	s := &stack{svc: svc}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reached.Add(1)
		rp.ServeHTTP(w, r)
	})
	front := httptest.NewServer(allowOrigin(Handler(counted)))
	t.Cleanup(front.Close)
	s.addr = front.Listener.Addr().String()
	return s
}

// allowOrigin stands for a CORS policy in front of Handler.
func allowOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
		}
		next.ServeHTTP(w, r)
	})
}
