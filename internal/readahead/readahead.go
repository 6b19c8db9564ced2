package readahead

import (
	"errors"
	"io"
	"sync"
)

// Reader reads its source in a goroutine of its own. It holds at most n
// buffers of size bytes, each allocated when first needed (a short stream
// takes one): memory stays bounded however far the producer gets ahead.
type Reader struct {
	filled chan chunk
	free   chan []byte
	done   chan struct{}
	exited chan struct{} // closed when the producer returns
	once   sync.Once

	buf []byte // the chunk being consumed, returned to free when used up
	cur []byte // its unread part
	err error
}

type chunk struct {
	b   []byte
	err error
}

// ErrClosed is returned by a Read after Close.
var ErrClosed = errors.New("read ahead: read after Close")

// New starts reading r ahead of the caller, into n buffers of size bytes.
// Call Close once done, or the goroutine waits for a free buffer forever.
func New(r io.Reader, size, n int) *Reader {
	ra := &Reader{filled: make(chan chunk, n), free: make(chan []byte, n), done: make(chan struct{}), exited: make(chan struct{})}
	for i := 0; i < n; i++ {
		ra.free <- nil // allocated on first use
	}
	go ra.produce(r, size)
	return ra
}

func (ra *Reader) produce(r io.Reader, size int) {
	defer close(ra.exited)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		}
		if buf == nil {
			buf = make([]byte, size)
		}
		// Fill the whole buffer unless the stream ends or fails; an error
		// is delivered after the bytes read before it.
		m := 0
		var err error
		for m < len(buf) && err == nil {
			var k int
			k, err = r.Read(buf[m:])
			m += k
		}
		select {
		case ra.filled <- chunk{buf[:m], err}:
		case <-ra.done:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read implements io.Reader.
func (ra *Reader) Read(p []byte) (int, error) {
	for len(ra.cur) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		select {
		case c := <-ra.filled:
			ra.buf, ra.cur, ra.err = c.b, c.b, c.err
		case <-ra.done:
			ra.err = ErrClosed
		}
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close stops the producer; it always returns nil. It does not close the
// underlying reader, which the producer may be reading still: close that
// only after Close.
func (ra *Reader) Close() error {
	ra.once.Do(func() { close(ra.done) })
	return nil
}

// Stop is Close, then waits until the producer has returned, so that
// nothing reads the source afterwards. Use it only where the source's
// reads cannot block for long (a file or a buffer, not a network body):
// a producer inside a Read returns only when that Read does.
func (ra *Reader) Stop() {
	ra.Close()
	<-ra.exited
}
