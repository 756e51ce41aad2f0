package proxy_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lateWriter is a transport whose first try fails as a connect failure
// while leaving a reader of that try's body behind, as a body writer
// goroutine that had not started yet would be; the reader reads only once
// the retry has begun, and the retry waits for it before it is sent.
type lateWriter struct {
	rt      http.RoundTripper
	calls   atomic.Int64
	retried chan struct{}
	read    chan struct{} // closed once the stale read returned
	n       int           // what the stale read returned, set before read closes
	err     error
}

func (l *lateWriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if l.calls.Add(1) == 1 {
		body := req.Body
		go func() {
			<-l.retried
			l.n, l.err = body.Read(make([]byte, 4))
			close(l.read)
		}()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	close(l.retried)
	select {
	case <-l.read:
	case <-time.After(5 * time.Second):
		return nil, errors.New("the stale read did not return")
	}
	return l.rt.RoundTrip(req)
}

// TestRetryFencesAbandonedBody checks that once a try is abandoned for a
// retry, its body writer can no longer read the client's body: the retry
// sends the whole body, and the stale read fails without taking a byte.
func TestRetryFencesAbandonedBody(t *testing.T) {
	b := newBackend(t, echoBody)
	l := &lateWriter{retried: make(chan struct{}), read: make(chan struct{})}
	g := startGatewayWith(t, simpleConfig([]string{b.Addr}, "", ""), func(rt http.RoundTripper) http.RoundTripper {
		l.rt = rt
		return l
	})
	const payload = "payload-0123456789"
	r := do(t, newClient(t), newRequest(t, http.MethodPut, g.URL+"/", strings.NewReader(payload)))
	if r.Status != http.StatusOK || r.Body != payload {
		t.Errorf("got %d %q, want the whole body echoed by the retry", r.Status, r.Body)
	}
	recv(t, l.read, 5*time.Second, "the stale read")
	if l.n != 0 || l.err == nil || l.err == io.EOF {
		t.Fatalf("the abandoned try's read returned %d, %v; want it fenced", l.n, l.err)
	}
}
