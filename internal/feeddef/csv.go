package feeddef

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
)

var errQuotedTooLong = errors.New("quoted record longer than max_line")

// csvSplitter splits one CSV record (RFC 4180 as encoding/csv reads it,
// without lazy quotes) into fields kept in one reused buffer. A quoted
// field may span lines; more supplies the next one.
type csvSplitter struct {
	delim   byte
	quote   bool
	maxLine int
	buf     []byte
	ends    []int
	// direct holds the fields of a record without quotes, the usual case:
	// slices of its line, valid until the next line is read, with nothing
	// copied. isDirect says whether the last record was split so.
	direct   [][]byte
	isDirect bool
	// below is set when the delimiter and the quote are both below 0x2d
	// (a comma, a tab, a space): splitDirect then finds them 64 bytes at
	// a time, as the Seclytics dump reader does. It repeats in every byte
	// the first byte value that is neither.
	below uint64
}

// newCSVSplitter returns a splitter for the delimiter, with or without
// quoting.
func newCSVSplitter(delim byte, quote bool, maxLine int) csvSplitter {
	s := csvSplitter{delim: delim, quote: quote, maxLine: maxLine}
	t := delim + 1
	if quote && '"'+1 > t {
		t = '"' + 1
	}
	if t <= 0x2d {
		s.below = uint64(t) * ones
	}
	return s
}

func (s *csvSplitter) fields() int {
	if s.isDirect {
		return len(s.direct)
	}
	return len(s.ends)
}

func (s *csvSplitter) field(i int) []byte {
	if s.isDirect {
		return s.direct[i]
	}
	start := 0
	if i > 0 {
		start = s.ends[i-1]
	}
	return s.buf[start:s.ends[i]]
}

// split splits line. It returns why the record is invalid ("" if it is
// not), or an error from more (which ends the parse).
func (s *csvSplitter) split(line []byte, more func() ([]byte, bool, error)) (string, error) {
	if d, ok := s.splitDirect(line); ok {
		// No quote on the line: the fields are its pieces between
		// delimiters, nothing to unquote, check or copy.
		s.isDirect, s.direct = true, d
		return "", nil
	}
	s.isDirect = false
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	i := 0
	for {
		if s.quote && i < len(line) && line[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					s.buf = append(append(s.buf, line[i:]...), '\n')
					next, ok, err := more()
					if err != nil {
						return "", err
					}
					if !ok {
						return "a quoted field is not closed before the end of the file", nil
					}
					if len(s.buf)+len(next) > s.maxLine {
						return "", errQuotedTooLong
					}
					line, i = next, 0
					continue
				}
				s.buf = append(s.buf, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					s.buf = append(s.buf, '"')
					i++
					continue
				}
				break
			}
			s.ends = append(s.ends, len(s.buf))
			if i == len(line) {
				return "", nil
			}
			if line[i] != s.delim {
				return "a character follows a closing quote: quote the whole field and double the quotes inside it", nil
			}
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], s.delim)
		f := line[i:]
		if j >= 0 {
			f = line[i : i+j]
		}
		if s.quote && bytes.IndexByte(f, '"') >= 0 {
			return "a quote inside an unquoted field: quote the whole field and double the quotes inside it", nil
		}
		s.buf = append(s.buf, f...)
		s.ends = append(s.ends, len(s.buf))
		if j < 0 {
			return "", nil
		}
		i += j + 1
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// splitDirect cuts a line without quotes (or any line when quotes are
// off) at its delimiters, eight bytes at a time as the Seclytics dump
// reader does: one pass finds every delimiter and tells whether the line
// holds a quote. ok is false for a line with a quote, left to the quoted
// path.
func (s *csvSplitter) splitDirect(line []byte) (_ [][]byte, ok bool) {
	if s.below != 0 {
		return s.splitBelow(line)
	}
	d := s.direct[:0]
	delims := uint64(s.delim) * ones
	quotes := uint64('"') * ones
	start, i := 0, 0
	for ; i+8 <= len(line); i += 8 {
		w := binary.LittleEndian.Uint64(line[i:])
		if s.quote && hasZero(w^quotes) != 0 && bytes.IndexByte(line[i:i+8], '"') >= 0 {
			return d, false
		}
		// Candidates: a set high bit marks a byte that may be the
		// delimiter (a borrow can mark the byte after one too).
		for m := hasZero(w ^ delims); m != 0; m &= m - 1 {
			j := i + bits.TrailingZeros64(m)/8
			if line[j] == s.delim {
				d = append(d, line[start:j])
				start = j + 1
			}
		}
	}
	for ; i < len(line); i++ {
		switch c := line[i]; {
		case c == s.delim:
			d = append(d, line[start:i])
			start = i + 1
		case c == '"' && s.quote:
			return d, false
		}
	}
	return append(d, line[start:]), true
}

// splitBelow is splitDirect for a delimiter and quote below 0x2d: a mask
// of the bytes below the first byte value that is neither covers 64 bytes
// per step, without a branch per byte or per word; fields are short and
// most lines have few other such bytes (digits, letters, dots and dashes
// are all above).
func (s *csvSplitter) splitBelow(line []byte) (_ [][]byte, ok bool) {
	d := s.direct[:0]
	start := 0
	for base := 0; base < len(line); base += 64 {
		for m := s.candidates64(line, base); m != 0; m &= m - 1 {
			j := base + bits.TrailingZeros64(m)
			switch line[j] {
			case s.delim:
				d = append(d, line[start:j])
				start = j + 1
			case '"':
				if s.quote {
					return d, false
				}
			}
		}
	}
	return append(d, line[start:]), true
}

// candidates64 returns a mask with bit i set if line[at+i] may be below
// the threshold of s.below (and maybe, by a borrow, the byte after one:
// the caller checks each). Lines are slices of the read buffer, so the 64
// bytes usually extend past the end of the line; those bits are masked
// off.
func (s *csvSplitter) candidates64(line []byte, at int) uint64 {
	if at+64 > cap(line) {
		var m uint64
		shift := 0
		for ; at+8 <= len(line); at += 8 {
			m |= movemask(s.candidates(binary.LittleEndian.Uint64(line[at:]))) << shift
			shift += 8
		}
		if at < len(line) {
			word := [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // never candidates
			copy(word[:], line[at:])
			m |= movemask(s.candidates(binary.LittleEndian.Uint64(word[:]))) << shift
		}
		return m
	}
	b := line[at : at+64]
	m := movemask(s.candidates(binary.LittleEndian.Uint64(b[0:]))) |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[8:])))<<8 |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[16:])))<<16 |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[24:])))<<24 |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[32:])))<<32 |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[40:])))<<40 |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[48:])))<<48 |
		movemask(s.candidates(binary.LittleEndian.Uint64(b[56:])))<<56
	if n := len(line) - at; n < 64 {
		m &= 1<<n - 1
	}
	return m
}

// candidates sets the high bit of every byte of x below the threshold, and
// maybe of some bytes just above one (a borrow), but never of a byte >=
// 0x80.
func (s *csvSplitter) candidates(x uint64) uint64 { return (x - s.below) &^ x & highs }

// movemask gathers the high bits of the eight bytes of x into the low
// eight bits of the result, byte i to bit i: the multiplication moves each
// byte's bit to a distinct position in the top byte, without carries.
func movemask(x uint64) uint64 { return (x >> 7) * 0x0102040810204080 >> 56 }

// hasZero has the high bit set in each byte of w that is zero (and maybe
// in the byte after one).
func hasZero(w uint64) uint64 { return (w - ones) &^ w & highs }
