package udpproxy

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize holds one IP_PKTINFO or IPV6_PKTINFO control message.
var oobSize = unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// enableDstInfo asks the kernel to report the destination address of every
// datagram c receives, when c is bound to a wildcard address: on a host
// with several addresses a reply sent without a source address would leave
// from whichever one routing prefers, and the client (a connected socket,
// a QUIC stack checking paths) would drop it. It reports whether the
// reports are on. The socket's family decides the option: an IPv6 socket
// reports IPv4 datagrams with IPv4-mapped addresses.
func enableDstInfo(c *net.UDPConn) bool {
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || !la.IP.IsUnspecified() {
		return false
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	on := false
	_ = rc.Control(func(fd uintptr) {
		domain, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		if err != nil {
			return
		}
		switch domain {
		case unix.AF_INET:
			on = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1) == nil
		case unix.AF_INET6:
			on = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1) == nil
		}
	})
	return on
}

// dstOf returns the destination address a datagram's control messages
// report, and the interface it arrived on.
func dstOf(oob []byte) (netip.Addr, uint32) {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(oob) {
			break
		}
		data := oob[unix.CmsgLen(0):h.Len]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(info.Addr), uint32(info.Ifindex)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(info.Addr), info.Ifindex
		}
		next := unix.CmsgSpace(int(h.Len) - unix.CmsgLen(0))
		if next > len(oob) {
			break
		}
		oob = oob[next:]
	}
	return netip.Addr{}, 0
}

// srcControl is the control message that sends a reply from src: the
// address the client wrote to. An IPv4 address goes out as IP_PKTINFO on
// an IPv4 socket and IPv4-mapped in IPV6_PKTINFO on an IPv6 one (as it was
// reported). The interface is kept only for link-local addresses, which
// need it; others leave the route to the kernel.
func srcControl(src netip.Addr, ifindex uint32) []byte {
	if !src.IsValid() {
		return nil
	}
	if !src.IsLinkLocalUnicast() {
		ifindex = 0
	}
	if src.Is4() {
		b := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
		info.Ifindex = int32(ifindex)
		info.Spec_dst = src.As4()
		return b
	}
	b := make([]byte, unix.CmsgSpace(unix.SizeofInet6Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&b[unix.CmsgLen(0)]))
	info.Ifindex = ifindex
	info.Addr = src.As16()
	return b
}
