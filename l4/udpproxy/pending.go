package udpproxy

import (
	"net/netip"
	"time"
)

// held is what a client sent while Pick waited for more.
type held struct {
	grams [][]byte
	since time.Time
}

// held returns the client's held datagrams followed by d (which is only
// borrowed: the caller's buffer) and how many came before d. The held
// ones are taken out of the map; hold puts them back.
func (p *Proxy) held(client netip.AddrPort, d []byte) ([][]byte, int, time.Time) {
	h := p.pending[client]
	delete(p.pending, client)
	if h == nil || time.Since(h.since) > PendingTimeout {
		return [][]byte{d}, 0, time.Now()
	}
	return append(h.grams, d), len(h.grams), h.since
}

// hold keeps grams (copying the last, which is the caller's buffer) for
// the client's next datagram, within the bounds; beyond them the client's
// datagrams are dropped and counted.
func (p *Proxy) hold(client netip.AddrPort, grams [][]byte, since time.Time) {
	if len(grams) >= MaxPending {
		p.failed.Add(int64(len(grams)))
		return
	}
	last := len(grams) - 1
	grams[last] = append([]byte(nil), grams[last]...)
	if len(p.pending) >= MaxPendingClients {
		p.dropOldestPending()
	}
	p.pending[client] = &held{grams: grams, since: since}
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
	}
	delete(p.pending, oldest)
}
