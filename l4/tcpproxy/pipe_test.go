package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestPipeEchoWithPrefix(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			r := startPipe(t.Context(), t, m, echo, []byte("PEEK "), Options{IdleTimeout: time.Minute})
			if _, err := r.client.Write([]byte("hello")); err != nil {
				t.Fatalf("write: %v", err)
			}
			if err := r.client.CloseWrite(); err != nil {
				t.Fatalf("close write: %v", err)
			}
			if got := readAll(t, r.client); got != "PEEK hello" {
				t.Errorf("echo = %q, want %q", got, "PEEK hello")
			}
			res := r.wait(t)
			want := Result{BytesIn: 10, BytesOut: 10, Reason: ReasonClientClosed, Spliced: m.spliced}
			res.Duration = 0
			if res != want {
				t.Errorf("result = %+v, want %+v", res, want)
			}
		})
	}
}

func TestPipeHalfClose(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name+"/client_first", func(t *testing.T) {
			handle := func(c *net.TCPConn) {
				req, _ := io.ReadAll(c)
				_, _ = c.Write(append([]byte("answer to "), req...))
			}
			r := startPipe(t.Context(), t, m, handle, nil, Options{})
			_, _ = r.client.Write([]byte("question"))
			if err := r.client.CloseWrite(); err != nil {
				t.Fatalf("close write: %v", err)
			}
			if got := readAll(t, r.client); got != "answer to question" {
				t.Errorf("reply = %q", got)
			}
			if res := r.wait(t); res.Reason != ReasonClientClosed {
				t.Errorf("reason = %s, want %s", res.Reason, ReasonClientClosed)
			}
		})
		t.Run(m.name+"/upstream_first", func(t *testing.T) {
			late := make(chan string, 1)
			handle := func(c *net.TCPConn) {
				_, _ = c.Write([]byte("banner"))
				_ = c.CloseWrite()
				b, _ := io.ReadAll(c)
				late <- string(b)
			}
			r := startPipe(t.Context(), t, m, handle, nil, Options{})
			if got := readAll(t, r.client); got != "banner" {
				t.Errorf("banner = %q", got)
			}
			_, _ = r.client.Write([]byte("after your FIN"))
			_ = r.client.CloseWrite()
			select {
			case got := <-late:
				if got != "after your FIN" {
					t.Errorf("upstream read %q after its FIN", got)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("upstream never saw the client's EOF")
			}
			if res := r.wait(t); res.Reason != ReasonUpstreamClosed || res.BytesIn != 14 || res.BytesOut != 6 {
				t.Errorf("result = %+v", res)
			}
		})
	}
}

func TestPipeReset(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name+"/upstream", func(t *testing.T) {
			kill := make(chan struct{})
			handle := func(c *net.TCPConn) {
				_, _ = c.Write([]byte("first part"))
				<-kill
				_ = c.SetLinger(0) // close sends RST
			}
			r := startPipe(t.Context(), t, m, handle, nil, Options{})
			buf := make([]byte, 10)
			if _, err := io.ReadFull(r.client, buf); err != nil {
				t.Fatalf("read: %v", err)
			}
			close(kill)
			_ = r.client.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, r.client); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client saw %v, want the upstream's reset passed on", err)
			}
			if res := r.wait(t); res.Reason != ReasonUpstreamError {
				t.Errorf("reason = %s, want %s", res.Reason, ReasonUpstreamError)
			}
		})
		t.Run(m.name+"/client", func(t *testing.T) {
			got, gone := make(chan struct{}), make(chan error, 1)
			handle := func(c *net.TCPConn) {
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err == nil {
					close(got)
				}
				_, err := io.Copy(io.Discard, struct{ io.Reader }{c})
				gone <- err
			}
			r := startPipe(t.Context(), t, m, handle, nil, Options{})
			_, _ = r.client.Write([]byte("ping"))
			<-got
			_ = r.client.SetLinger(0)
			_ = r.client.Close()
			if res := r.wait(t); res.Reason != ReasonClientError {
				t.Errorf("reason = %s, want %s", res.Reason, ReasonClientError)
			}
			select {
			case err := <-gone:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("upstream saw %v, want the client's reset passed on", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("upstream was not closed")
			}
		})
	}
}

func TestPipeIdleTimeout(t *testing.T) {
	const idle = 200 * time.Millisecond
	for _, m := range []mode{modes[0], modes[2]} {
		t.Run(m.name, func(t *testing.T) {
			o := Options{IdleTimeout: idle}
			quiet := startPipe(t.Context(), t, m, drain, nil, o)
			busy := startPipe(t.Context(), t, m, drain, nil, o)
			// busy sends one byte every idle/5, one way only, for 4*idle: the
			// quiet reverse direction must not make it look idle.
			tick := time.NewTicker(idle / 5)
			defer tick.Stop()
			for range 20 {
				<-tick.C
				if _, err := busy.client.Write([]byte{'x'}); err != nil {
					t.Fatalf("busy pipe closed early: %v", err)
				}
			}
			select {
			case res := <-busy.result:
				t.Fatalf("busy pipe ended: %+v", res)
			default:
			}
			res := quiet.wait(t)
			if res.Reason != ReasonIdleTimeout || res.Duration < idle || res.Duration > idle+2*time.Second {
				t.Errorf("quiet pipe = %+v", res)
			}
			closedOrReset(t, quiet.client)
			res = busy.wait(t)
			if res.Reason != ReasonIdleTimeout || res.BytesIn != 20 || res.Duration < 5*idle {
				t.Errorf("busy pipe = %+v", res)
			}
		})
	}
}

func TestPipeMaxLifetime(t *testing.T) {
	const life, jitter = 150 * time.Millisecond, 150 * time.Millisecond
	o := Options{MaxLifetime: life, Jitter: jitter, IdleTimeout: time.Minute}
	rigs := make([]rig, 4)
	for i := range rigs {
		rigs[i] = startPipe(t.Context(), t, modes[0], drain, nil, o)
	}
	for i, r := range rigs {
		res := r.wait(t)
		// The upper bound allows for a loaded 2-core machine under -race.
		if res.Reason != ReasonMaxLifetime || res.Duration < life || res.Duration > life+jitter+time.Second {
			t.Errorf("pipe %d = %+v", i, res)
		}
		closedOrReset(t, r.client)
	}
}

func TestPipeShutdown(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			r := startPipe(ctx, t, m, echo, nil, Options{})
			_, _ = r.client.Write([]byte("up?"))
			buf := make([]byte, 3)
			if _, err := io.ReadFull(r.client, buf); err != nil {
				t.Fatalf("echo: %v", err)
			}
			cancel()
			closedOrReset(t, r.client)
			if res := r.wait(t); res.Reason != ReasonShutdown || res.BytesIn != 3 || res.BytesOut != 3 {
				t.Errorf("result = %+v", res)
			}
		})
	}
}
