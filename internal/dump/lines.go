package dump

import (
	"bytes"
	"errors"
	"io"
)

// defaultWindow is the initial size of the read window. Large reads keep
// the decompressor and the scanner in long, branch-free runs; the window only
// grows past this when a single record is longer.
const defaultWindow = 256 << 10

// maxEmptyReads bounds how often a source may return no bytes and no error
// before the dump is abandoned, as bufio does.
const maxEmptyReads = 100

// errLineTooLong is returned by lineReader.next when a line would exceed the
// caller's budget; the caller turns it into a lineLimitError naming the line
// where its record starts.
var errLineTooLong = errors.New("line too long")

// lineReader hands out the physical lines of a stream from one reusable
// window. A returned line is a slice of the window, valid until the next call
// of next, fill or peekNonBlank. The caller may rewrite the line in place
// (it has been consumed), and may read past its length up to its capacity,
// which runs on into the window (bytes of no meaning, but memory that is
// there: csvSplitter scans 64 bytes at a time this way).
type lineReader struct {
	src  io.Reader
	buf  []byte
	r, w int // unread bytes are buf[r:w]

	eof bool  // src returned io.EOF
	err error // src returned this error; reported once buf[r:w] is used up

	// maxLine is the longest line the window must hold, excluding its '\n'.
	maxLine int
	// lines counts the physical lines handed out (or skipped) so far.
	lines int64
}

func newLineReader(src io.Reader, window, maxLine int) *lineReader {
	if window > maxLine+1 {
		window = maxLine + 1
	}
	if window < 16 {
		window = 16
	}
	return &lineReader{src: src, buf: make([]byte, window), maxLine: maxLine}
}

// next returns the next physical line without its '\n', and whether a '\n'
// ended it (only the last line of a stream may lack one). A '\r' before the
// '\n' is left in place. next returns io.EOF when no bytes are left, the
// source's error once the bytes before it are used up, and errLineTooLong
// when the line is longer than budget bytes.
func (lr *lineReader) next(budget int) ([]byte, bool, error) {
	scanned := lr.r
	for {
		if i := bytes.IndexByte(lr.buf[scanned:lr.w], '\n'); i >= 0 {
			end := scanned + i
			if end-lr.r > budget {
				return nil, false, errLineTooLong
			}
			line := lr.buf[lr.r:end]
			lr.r = end + 1
			lr.lines++
			return line, true, nil
		}
		if lr.w-lr.r > budget {
			return nil, false, errLineTooLong
		}
		if lr.eof {
			if lr.r == lr.w {
				return nil, false, io.EOF
			}
			line := lr.buf[lr.r:lr.w]
			lr.r = lr.w
			lr.lines++
			return line, false, nil
		}
		if lr.err != nil {
			return nil, false, lr.err
		}
		scanned = lr.w - lr.r
		lr.fill()
		scanned += lr.r
	}
}

// fill moves the unread bytes to the front of the window, grows the window
// if they fill it, and reads once from the source.
func (lr *lineReader) fill() {
	if lr.r > 0 {
		lr.w = copy(lr.buf, lr.buf[lr.r:lr.w])
		lr.r = 0
	}
	if lr.w == len(lr.buf) {
		// Only a line longer than the window gets here; the budget checks in
		// next stop it before the window passes maxLine+1 bytes.
		size := 2 * len(lr.buf)
		if size > lr.maxLine+1 {
			size = lr.maxLine + 1
		}
		if size <= len(lr.buf) {
			size = len(lr.buf) + 1
		}
		buf := make([]byte, size)
		copy(buf, lr.buf[:lr.w])
		lr.buf = buf
	}
	for range maxEmptyReads {
		n, err := lr.src.Read(lr.buf[lr.w:])
		lr.w += n
		if err == io.EOF {
			lr.eof = true
			return
		}
		if err != nil {
			lr.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	lr.err = io.ErrNoProgress
}

// skipBOM drops a UTF-8 byte order mark at the current position. A read
// error is left for the next call of next or peekNonBlank to report.
func (lr *lineReader) skipBOM() {
	for lr.w-lr.r < 3 && !lr.eof && lr.err == nil {
		lr.fill()
	}
	if bytes.HasPrefix(lr.buf[lr.r:lr.w], []byte("\xef\xbb\xbf")) {
		lr.r += 3
	}
}

// peekNonBlank returns the first byte that is not ASCII white space, without
// consuming it. Whole lines of white space before it are consumed (they are
// blank lines in either format), so the window stays bounded. ok is false at
// the end of the stream.
func (lr *lineReader) peekNonBlank() (c byte, ok bool, err error) {
	i := lr.r
	for {
		for ; i < lr.w; i++ {
			if !isBlank(lr.buf[i]) {
				return lr.buf[i], true, nil
			}
		}
		if lr.eof {
			return 0, false, nil
		}
		if lr.err != nil {
			return 0, false, lr.err
		}
		if nl := bytes.LastIndexByte(lr.buf[lr.r:lr.w], '\n'); nl >= 0 {
			lr.lines += int64(bytes.Count(lr.buf[lr.r:lr.r+nl+1], []byte{'\n'}))
			lr.r += nl + 1
		}
		i -= lr.r
		lr.fill()
		i += lr.r
		if lr.w-lr.r > lr.maxLine {
			return 0, false, errLineTooLong
		}
	}
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// buffered is the number of bytes read from the source but not yet consumed.
func (lr *lineReader) buffered() int { return lr.w - lr.r }

// peekPrefix returns up to n buffered bytes from the read position, with
// surrounding blanks trimmed, for error messages.
func (lr *lineReader) peekPrefix(n int) string {
	b := bytes.TrimSpace(lr.buf[lr.r:min(lr.w, lr.r+n)])
	return string(b)
}
