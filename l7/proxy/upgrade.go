package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bouncer-proxy/bouncer/l7"
)

// switchProtocols completes an Upgrade (WebSocket and the like): the
// client's connection is taken over and bytes are copied both ways until
// either side closes, the client's request ends, or the connection has
// been quiet for p.upgradeIdle.
func (p *Proxy) switchProtocols(w http.ResponseWriter, r *http.Request, t *tryResult) {
	res := t.res
	reqType, resType := upgradeType(r.Header), upgradeType(res.Header)
	back, ok := res.Body.(io.ReadWriteCloser)
	if !strings.EqualFold(reqType, resType) || !ok {
		t.fail = failReset
		t.report(0)
		p.observe(t, 0)
		l7.WriteError(w, r, l7.Errorf(http.StatusBadGateway, l7.CodeBadGateway, "upstream %s switched protocols badly", p.name))
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.report(0)
		p.observe(t, 0)
		l7.WriteError(w, r, l7.Errorf(http.StatusBadRequest, l7.CodeBadRequest, "protocol upgrade is not possible on this connection"))
		return
	}
	defer conn.Close()
	defer back.Close()
	removeHopHeaders(res.Header)
	for k, vv := range w.Header() { // the gateway's own, e.g. the request id
		if _, ok := res.Header[k]; !ok {
			res.Header[k] = vv
		}
	}
	res.Header.Set("Connection", "Upgrade")
	res.Header.Set("Upgrade", resType)
	res.Body = nil
	if info := l7.InfoFrom(r.Context()); info != nil {
		info.Status = res.StatusCode
	}
	t.report(res.StatusCode)
	p.observe(t, res.StatusCode)
	if err := res.Write(brw); err != nil {
		return
	}
	if err := brw.Flush(); err != nil {
		return
	}
	tunnel(r.Context(), conn, brw.Reader, back, p.upgradeIdle)
}

// tunnel copies bytes between the client's connection (with what its
// reader already buffered) and the upstream's until one side ends, ctx
// ends, or nothing moved either way for idle (0: no limit). It returns then; the
// caller closes both ends, which stops the copy still running.
func tunnel(ctx context.Context, conn net.Conn, buffered *bufio.Reader, back io.ReadWriter, idle time.Duration) {
	var last atomic.Int64 // unix nanoseconds of the last write either way
	last.Store(time.Now().UnixNano())
	done := make(chan struct{}, 2)
	go func() {
		up := &activityWriter{w: back, last: &last}
		if n := buffered.Buffered(); n > 0 {
			pending, _ := buffered.Peek(n)
			_, _ = up.Write(pending)
		}
		_, _ = io.Copy(up, conn)
		done <- struct{}{}
	}()
	go func() { _, _ = io.Copy(&activityWriter{w: conn, last: &last}, back); done <- struct{}{} }()
	var timer *time.Timer
	var tick <-chan time.Time // nil without an idle limit: never ready
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		tick = timer.C
	}
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-tick:
			quiet := time.Since(time.Unix(0, last.Load()))
			if quiet >= idle {
				return
			}
			timer.Reset(idle - quiet)
		}
	}
}

// activityWriter records the time of each write to w in last.
type activityWriter struct {
	w    io.Writer
	last *atomic.Int64
}

func (a *activityWriter) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.last.Store(time.Now().UnixNano())
	return n, err
}
