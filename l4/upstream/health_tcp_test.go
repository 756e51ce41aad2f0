package upstream

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/bouncer-proxy/bouncer/configs"
	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

func tcpCheck(send, expect string) *configs.HealthCheck {
	hc := fastCheck("/")
	hc.Type, hc.Send, hc.Expect = "tcp", send, expect
	return hc
}

// lineServer answers every line it reads with reply, on 127.0.0.1:0.
func lineServer(t *testing.T, reply string) string {
	return testsvc.ServeTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := br.ReadString('\n'); err != nil {
				return
			}
			if _, err := c.Write([]byte(reply)); err != nil {
				return
			}
		}
	})
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TCP checks: a real Redis answers PING with +PONG; a server answering
// something else, a closed port, and a connect-only check of a closed
// port fail; a connect-only check of a listening port passes.
func TestTCPHealthCheck(t *testing.T) {
	redis := testsvc.StartRedis(t)
	wrong := lineServer(t, "-ERR unknown command\r\n")
	for _, c := range []struct {
		name         string
		addr         string
		send, expect string
		healthy      bool
	}{
		{"redis ping", redis.Addr, "PING\r\n", "+PONG", true},
		{"wrong reply", wrong, "PING\r\n", "+PONG", false},
		{"closed port", closedPort(t), "PING\r\n", "+PONG", false},
		{"connect only", wrong, "", "", true},
		{"connect only, closed", closedPort(t), "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRegistry(t, Options{})
			cfg := upstreamOf("round_robin", c.addr)
			cfg.HealthCheck = tcpCheck(c.send, c.expect)
			cl := build(t, r, "db", cfg)
			r.Activate(map[string]*Cluster{"db": cl})
			// Two checks in a row with the same verdict (thresholds are 2).
			eventually(t, 5*time.Second, "checked twice", func() bool {
				checked, passes, fails := checkState(cl)
				return checked && (c.healthy && passes >= 2 || !c.healthy && fails >= 2)
			})
			if readyOf(cl, c.addr) != c.healthy {
				t.Errorf("ready = %v, want %v", readyOf(cl, c.addr), c.healthy)
			}
		})
	}
}

// A Redis that goes away is marked down by its PING check, and up again
// when it answers.
func TestTCPHealthCheckRedisDown(t *testing.T) {
	redis := testsvc.StartRedis(t)
	r := newRegistry(t, Options{})
	cfg := upstreamOf("round_robin", redis.Addr)
	cfg.HealthCheck = tcpCheck("PING\r\n", "+PONG")
	cl := build(t, r, "db", cfg)
	r.Activate(map[string]*Cluster{"db": cl})
	eventually(t, 5*time.Second, "redis checked and ready", func() bool {
		checked, passes, _ := checkState(cl)
		return checked && passes >= 2 && readyOf(cl, redis.Addr)
	})
	redis.Stop()
	eventually(t, 5*time.Second, "redis marked down", func() bool { return !readyOf(cl, redis.Addr) })
}

// checkState reads the check counters of c's only endpoint.
func checkState(c *Cluster) (checked bool, passes, fails int) {
	c.reg.mu.Lock()
	defer c.reg.mu.Unlock()
	e := c.snap.Load().members[0].ep
	return e.checked, e.hcPass, e.hcFail
}
