package udpproxy

import (
	"net/netip"
	"time"
)

// held is what a client sent while Pick waited for more.
type held struct {
	grams [][]byte
	since time.Time
	size  int // bytes in grams
}

// held returns the client's held datagrams followed by d (which is only
// borrowed: the caller's buffer) and how many came before d. The held
// ones are taken out of the map; hold puts them back.
func (p *Proxy) held(client netip.AddrPort, d []byte) ([][]byte, int, time.Time) {
	h := p.pending[client]
	if h != nil {
		p.forget(client, h)
	}
	if h == nil || time.Since(h.since) > PendingTimeout {
		return [][]byte{d}, 0, time.Now()
	}
	return append(h.grams, d), len(h.grams), h.since
}

// hold keeps grams (copying the last, which is the caller's buffer) for
// the client's next datagram, within the bounds; beyond them the client's
// datagrams are dropped and counted. The oldest clients' datagrams make
// room for the newest, by count and by bytes.
func (p *Proxy) hold(client netip.AddrPort, grams [][]byte, since time.Time) {
	size := 0
	for _, g := range grams {
		size += len(g)
	}
	if len(grams) >= MaxPending || size > MaxPendingBytes {
		p.failed.Add(int64(len(grams)))
		return
	}
	last := len(grams) - 1
	grams[last] = append([]byte(nil), grams[last]...)
	for len(p.pending) > 0 && (len(p.pending) >= MaxPendingClients || p.pendingBytes+size > MaxPendingBytes) {
		p.dropOldestPending()
	}
	p.pending[client] = &held{grams: grams, since: since, size: size}
	p.pendingBytes += size
}

// forget takes client's held datagrams out of the tally.
func (p *Proxy) forget(client netip.AddrPort, h *held) {
	delete(p.pending, client)
	p.pendingBytes -= h.size
}

func (p *Proxy) dropOldestPending() {
	var oldest netip.AddrPort
	var at time.Time
	for c, h := range p.pending {
		if at.IsZero() || h.since.Before(at) {
			oldest, at = c, h.since
		}
	}
	if h := p.pending[oldest]; h != nil {
		p.failed.Add(int64(len(h.grams)))
		p.forget(oldest, h)
	}
}
