package tcpproxy

import "sync/atomic"

// Stats counts the bytes pipes moved, by copy path. One Stats may be shared
// by any number of pipes (Options.Stats); the counters are safe to read at
// any time.
type Stats struct {
	// SplicedBytes moved by (*net.TCPConn).ReadFrom between two TCP
	// sockets, which the runtime does with splice(2) in the kernel (on
	// Linux; it falls back to its own copy where splice is unsupported).
	SplicedBytes atomic.Int64
	// BufferedBytes written from a user-space buffer: the buffered path and
	// the prefix.
	BufferedBytes atomic.Int64
}
