//go:build !linux

package udpproxy

import (
	"net"
	"net/netip"
)

// Elsewhere replies leave from the address routing prefers; bind the
// listener to one address on hosts with several.
const oobSize = 0

func enableDstInfo(*net.UDPConn) bool { return false }

func dstOf([]byte) (netip.Addr, uint32) { return netip.Addr{}, 0 }

func srcControl(netip.Addr, uint32) []byte { return nil }
