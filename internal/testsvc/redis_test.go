package testsvc_test

import (
	"testing"

	"github.com/bouncer-proxy/bouncer/internal/testsvc"
)

func TestRedisStarts(t *testing.T) {
	r := testsvc.StartRedis(t)
	if r.Addr == "" {
		t.Fatal("no address")
	}
	r.Stop()
	select {
	case <-r.Exited():
	default:
		t.Fatal("redis-server still running after Stop")
	}
}
