package feeddef

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	"forewarn/internal/readahead"
)

// ErrTooLarge is wrapped by the read error of a body that decompresses to
// more than the limit given to Decompress.
var ErrTooLarge = errors.New("feed body too large")

// Decompress returns the body r as the definition's fetch.compression
// says: gzip, plain, or auto (gzip when the body starts with gzip's magic
// bytes). Reading more than max decompressed bytes fails with
// ErrTooLarge, against gzip bombs.
//
// A gzip body is inflated in a goroutine of its own, a few buffers ahead
// of the parse, as the hand-written Seclytics path always did: the two
// then share the work between two cores. Close the returned reader when
// done with it (it stops that goroutine), then r.
func (d *Definition) Decompress(r io.Reader, max int64) (io.ReadCloser, error) {
	// A *bufio.Reader lets the decompressor read its input byte by byte
	// from memory rather than wrapping it in a buffer of its own.
	br := bufio.NewReaderSize(r, 64<<10)
	gz := d.Fetch.Compression == "gzip"
	if d.Fetch.Compression == "auto" || d.Fetch.Compression == "" {
		magic, _ := br.Peek(2)
		gz = len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	}
	if !gz {
		return &capped{r: br, left: max, max: max}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("feed %s: the body is not gzip: %w", d.ID, err)
	}
	ahead := readahead.New(zr, 256<<10, 4)
	return &capped{r: ahead, left: max, max: max, close: ahead.Close}, nil
}

// capped reads at most max bytes of r; close, if set, stops what feeds r.
type capped struct {
	r         io.Reader
	left, max int64
	close     func() error
}

// Close implements io.Closer.
func (c *capped) Close() error {
	if c.close == nil {
		return nil
	}
	return c.close()
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// One byte more tells a body of exactly max from a longer one.
		var one [1]byte
		n, err := io.ReadFull(c.r, one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes after decompression", ErrTooLarge, c.max)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
