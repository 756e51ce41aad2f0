package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/net/http2"

	"github.com/bouncer-proxy/bouncer/l7/internal/h2hdr"
	"github.com/bouncer-proxy/bouncer/l7/internal/hdrkey"
)

// readLoop reads the connection's frames until it fails, handing each to
// its stream. Connection errors end the connection with GOAWAY; stream
// errors reset only their stream.
func (cc *h2Conn) readLoop() {
	for {
		f, err := cc.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if cs := cc.stream(se.StreamID); cs != nil {
					cs.abort(fmt.Errorf("proxy: h2 upstream: %w", se), true)
				}
				continue
			}
			cc.fail(err)
			return
		}
		cc.framesRead.Add(1)
		if err := cc.handle(f); err != nil {
			cc.fail(err)
			return
		}
	}
}

// fail ends the connection after a read or protocol error, telling the
// peer why when it was the peer's fault.
func (cc *h2Conn) fail(err error) {
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		_ = cc.write(func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCode(ce), nil) })
	}
	cc.close(fmt.Errorf("%w: %w", errH2Closed, err))
}

func (cc *h2Conn) stream(id uint32) *h2Stream {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.streams[id]
}

// handle processes one frame; an error ends the connection.
func (cc *h2Conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.HeadersFrame:
		if err := cc.hdec.ReadBlock(cc.fr, f, &cc.blk); err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if cs := cc.stream(se.StreamID); cs != nil {
					cs.abort(fmt.Errorf("proxy: h2 upstream: %w", se), true)
				}
				return nil
			}
			return err
		}
		return cc.onHeaders(&cc.blk)
	case *http2.DataFrame:
		return cc.onData(f)
	case *http2.RSTStreamFrame:
		if cs := cc.stream(f.StreamID); cs != nil {
			err := error(http2.StreamError{StreamID: f.StreamID, Code: f.ErrCode})
			if f.ErrCode == http2.ErrCodeRefusedStream {
				err = errH2Refused
			}
			cs.abort(fmt.Errorf("proxy: h2 upstream reset the stream: %w", err), false)
		}
	case *http2.SettingsFrame:
		return cc.onSettings(f)
	case *http2.WindowUpdateFrame:
		return cc.onWindowUpdate(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			return cc.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
		}
	case *http2.GoAwayFrame:
		cc.onGoAway(f)
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol) // push is off (RFC 9113 8.4)
	}
	return nil
}

// onHeaders takes a response's headers or trailers.
func (cc *h2Conn) onHeaders(f *h2hdr.Block) error {
	cs := cc.stream(f.StreamID)
	if cs == nil {
		if f.StreamID >= cc.nextIDSnapshot() || f.StreamID%2 == 0 {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		return nil // a stream we reset
	}
	if f.Truncated {
		cs.abort(errors.New("proxy: h2 upstream: response headers larger than 1 MiB"), true)
		return nil
	}
	if cs.res != nil {
		if !f.StreamEnded() || len(f.PseudoFields()) > 0 {
			cs.abort(errors.New("proxy: h2 upstream: malformed trailers"), true)
			return nil
		}
		cs.receiveTrailers(toHeader(f.RegularFields()))
		return nil
	}
	status, err := strconv.Atoi(f.PseudoValue("status"))
	if err != nil || status < 100 || status > 999 || status == http.StatusSwitchingProtocols {
		cs.abort(errors.New("proxy: h2 upstream: malformed :status"), true)
		return nil
	}
	if status < 200 {
		if f.StreamEnded() {
			cs.abort(errors.New("proxy: h2 upstream: stream ended after an informational response"), true)
		}
		return nil // 100 Continue, 103 Early Hints: not forwarded
	}
	cs.receiveHeaders(status, toHeader(f.RegularFields()), f.StreamEnded())
	return nil
}

func (cc *h2Conn) nextIDSnapshot() uint32 {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.nextID
}

// onData queues a response body chunk, enforcing our windows.
func (cc *h2Conn) onData(f *http2.DataFrame) error {
	n := int(f.Length)
	data := f.Data()
	cc.mu.Lock()
	cc.recvWindow -= n
	overflow := cc.recvWindow < 0
	cc.mu.Unlock()
	if overflow {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	cs := cc.stream(f.StreamID)
	if cs == nil && f.StreamID >= cc.nextIDSnapshot() {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	// The connection's credit goes back as soon as the frame is in, not
	// when the proxy reads it: each stream's own window bounds what it
	// buffers, and a client reading one response slowly must not stall
	// every other stream of the connection.
	cc.refundConn(n)
	if cs == nil {
		return nil // a stream we reset
	}
	if err := cs.receiveData(data, n, f.StreamEnded()); err != nil {
		cs.abort(err, true)
	}
	return nil
}

func (cc *h2Conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		cc.mu.Lock()
		defer cc.mu.Unlock()
		switch s.ID {
		case http2.SettingMaxConcurrentStreams:
			cc.maxStreams = int(min(s.Val, 1<<16))
		case http2.SettingInitialWindowSize:
			delta := int32(s.Val) - cc.initWindow
			cc.initWindow = int32(s.Val)
			for _, cs := range cc.streams {
				cs.sendWindow += delta
			}
			cc.flow.Broadcast()
		case http2.SettingMaxFrameSize:
			cc.maxFrame = int(s.Val)
		case http2.SettingMaxHeaderListSize:
			cc.maxHeaders.Store(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cc.mu.Lock()
	first := !cc.gotSettings
	cc.gotSettings = true
	cc.mu.Unlock()
	if first {
		close(cc.settingsSeen)
	}
	return cc.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
}

func (cc *h2Conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if f.StreamID == 0 {
		if int64(cc.sendWindow)+int64(f.Increment) > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		cc.sendWindow += int32(f.Increment)
	} else if cs := cc.streams[f.StreamID]; cs != nil {
		if int64(cs.sendWindow)+int64(f.Increment) > 1<<31-1 {
			go cs.abort(errors.New("proxy: h2 upstream overflowed a stream window"), true)
			return nil
		}
		cs.sendWindow += int32(f.Increment)
	}
	cc.flow.Broadcast()
	return nil
}

// onGoAway stops new streams; streams the peer never saw fail as
// refused, so they can be sent again on another connection.
func (cc *h2Conn) onGoAway(f *http2.GoAwayFrame) {
	cc.t.remove(cc)
	cc.mu.Lock()
	cc.goingAway = true
	var refused []*h2Stream
	for id, cs := range cc.streams {
		if id > f.LastStreamID {
			refused = append(refused, cs)
		}
	}
	empty := len(cc.streams) == len(refused)
	cc.mu.Unlock()
	for _, cs := range refused {
		cs.abort(errH2Refused, false)
	}
	if empty {
		cc.close(errH2Closed)
	}
}

// toHeader turns decoded fields into an http.Header with canonical keys.
func toHeader(fields []hpackField) http.Header {
	h := make(http.Header, len(fields))
	vals := make([]string, len(fields))
	for i, f := range fields {
		k := hdrkey.Canonical(f.Name)
		if old, ok := h[k]; ok {
			h[k] = append(old, f.Value)
			continue
		}
		vals[i] = f.Value
		h[k] = vals[i : i+1 : i+1]
	}
	return h
}
