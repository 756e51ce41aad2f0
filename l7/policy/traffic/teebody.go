package traffic

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// teeBody is what the primary reads of a sampled request body of unknown
// length: the client's bytes, passed through as they are read, with a
// copy kept up to the mirror's MaxBodyBytes. At the end of the body the
// shadow copy is launched with it; a longer body, a read error or a body
// left unread (finish) sends no copy. It holds a mirror slot until then.
// Read and Close may be called from different goroutines.
type teeBody struct {
	src    io.ReadCloser
	m      *Mirror
	shadow *http.Request // the copy, launched with buf at the end

	mu   sync.Mutex
	buf  []byte
	done bool // launched or given up: the slot is released or owned by send
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.src.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return n, err
	}
	if int64(len(b.buf)+n) > b.m.maxBody {
		b.giveUp(&b.m.skipped)
		return n, err
	}
	b.buf = append(b.buf, p[:n]...)
	switch {
	case err == io.EOF:
		b.done = true
		body := b.buf
		if body == nil {
			body = []byte{}
		}
		b.m.launch(b.shadow, body)
	case err != nil:
		b.giveUp(&b.m.failed)
	}
	return n, err
}

func (b *teeBody) Close() error {
	b.finish()
	return b.src.Close()
}

// finish gives the copy up unless the body was read to its end; called
// when the primary closes the body or its handler returns.
func (b *teeBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.giveUp(&b.m.failed)
	}
}

// giveUp counts why no copy is sent and releases the slot. b.mu is held.
func (b *teeBody) giveUp(counter *atomic.Uint64) {
	b.done, b.buf = true, nil
	counter.Add(1)
	<-b.m.slots
}
