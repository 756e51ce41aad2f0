package testsvc

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// Redis is a redis-server started for one test.
type Redis struct {
	Addr string // 127.0.0.1:port
	*Proc
}

// StartRedis starts a redis-server on a free loopback port, without
// persistence, and waits until it answers PING.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin := Binary(t, "redis-server")
	port := FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := Start(t, bin, []string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--protected-mode", "yes",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--daemonize", "no",
	}, nil)
	p.WaitFor(t, 10*time.Second, func() error { return ping(addr) })
	return &Redis{Addr: addr, Proc: p}
}

// ping sends one PING in the Redis protocol and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
