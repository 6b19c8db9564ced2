package feeddef

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// ErrTooLarge is wrapped by the read error of a body that decompresses to
// more than the limit given to Decompress.
var ErrTooLarge = errors.New("feed body too large")

// Decompress returns the body r as the definition's fetch.compression
// says: gzip, plain, or auto (gzip when the body starts with gzip's magic
// bytes). Reading more than max decompressed bytes fails with
// ErrTooLarge, against gzip bombs. The caller closes r.
func (d *Definition) Decompress(r io.Reader, max int64) (io.Reader, error) {
	br := bufio.NewReader(r)
	gz := d.Fetch.Compression == "gzip"
	if d.Fetch.Compression == "auto" || d.Fetch.Compression == "" {
		magic, _ := br.Peek(2)
		gz = len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	}
	var body io.Reader = br
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("feed %s: the body is not gzip: %w", d.ID, err)
		}
		body = zr
	}
	return &capped{r: body, left: max, max: max}, nil
}

type capped struct {
	r         io.Reader
	left, max int64
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
