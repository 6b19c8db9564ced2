package feeddef

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine is the longest line (or CSV record) a Reader accepts when
// the definition does not set format.max_line.
const DefaultMaxLine = 1 << 20

// ErrLineTooLong is wrapped by the error a Reader returns for a line
// longer than the format's max_line. It ends the parse: a line that long is
// most often binary data or an unbalanced quote, and skipping it would
// guess where the next line starts.
var ErrLineTooLong = errors.New("line too long")

// lineReader hands out lines without their line ending (LF or CRLF; a
// missing final newline is fine), skipping a UTF-8 BOM at the start. A
// line is valid until the next call.
type lineReader struct {
	br      *bufio.Reader
	maxLine int
	line    int64
	started bool
}

func newLineReader(r io.Reader, maxLine int) *lineReader {
	size := maxLine + 2
	if size < 4096 {
		size = 4096
	}
	if size > 64<<10 {
		size = 64 << 10
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), maxLine: maxLine}
}

// next returns the next line and its number; io.EOF at the end.
func (lr *lineReader) next(long *[]byte) ([]byte, error) {
	if !lr.started {
		lr.started = true
		if b, err := lr.br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
			lr.br.Discard(3)
		}
	}
	b, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: gather it, up to maxLine.
		*long = append((*long)[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(*long) > lr.maxLine+1 {
				return nil, fmt.Errorf("line %d is longer than max_line (%d bytes): %w", lr.line+1, lr.maxLine, ErrLineTooLong)
			}
			b, err = lr.br.ReadSlice('\n')
			*long = append(*long, b...)
		}
		b = *long
	}
	if len(b) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	lr.line++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) > lr.maxLine {
		return nil, fmt.Errorf("line %d is longer than max_line (%d bytes): %w", lr.line, lr.maxLine, ErrLineTooLong)
	}
	return b, nil
}
