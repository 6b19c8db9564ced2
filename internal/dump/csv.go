package dump

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"strconv"
)

// csvSplitter splits RFC 4180 records out of a lineReader without
// allocating per record. It mirrors encoding/csv with LazyQuotes=false,
// FieldsPerRecord=-1 and TrimLeadingSpace=false, which FuzzCSV checks:
//   - records end at '\n'; one '\r' before it (or before the end of the
//     stream) is dropped, and inside a quoted field "\r\n" becomes "\n";
//   - empty lines ("", "\r") are skipped and are not records;
//   - a field is quoted only if its first byte is '"'; inside it `""` is a
//     quote, and the closing quote must be followed by ',' or the line end;
//   - a '"' in an unquoted field, a stray byte after a closing quote or a
//     quote left open at the end of the stream is a *RowError, after which
//     the scan resumes at the next physical line, as encoding/csv does.
//
// Fields are returned untrimmed; trimming, blank-line and field-count rules
// belong to the Reader.
//
// A record on one line, by far the common case, is split in a single pass
// (splitLine) and its fields are slices of the read window; quoted fields are
// unquoted in place, since the window bytes of a consumed line are not read
// again. Only a record whose quoted field spans lines is copied, into rec.
type csvSplitter struct {
	lines *lineReader

	// maxFields caps how many fields are stored per record; the rest are
	// only counted, so a line of commas cannot make fields grow past the
	// header's width.
	maxFields int

	// The last record: its first min(count, maxFields) fields, its field
	// count, the physical line where it starts, and whether it had a quoted
	// field.
	fields [][]byte
	count  int
	line   int64
	quoted bool

	rec  []byte // content of a record that spans lines
	ends []int  // end offsets in rec of its stored fields
}

// next splits the next record. It returns io.EOF at the end of the stream,
// a *RowError for a malformed record (the caller may call next again), and
// any other error as fatal.
func (s *csvSplitter) next() error {
	var line []byte
	var nl bool
	for {
		l, n, err := s.lines.next(s.lines.maxLine)
		if err != nil {
			if err == errLineTooLong {
				return lineLimitError(s.lines.lines+1, s.lines.maxLine)
			}
			return err
		}
		if len(l) == 0 || len(l) == 1 && l[0] == '\r' {
			continue
		}
		line, nl = l, n
		break
	}
	s.line = s.lines.lines
	raw := len(line)
	if line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return s.splitLine(line, nl, raw)
}

// splitLine splits a record starting on line (without its line end; raw
// bytes long before a '\r' was dropped; nl tells whether a '\n' ended it).
func (s *csvSplitter) splitLine(line []byte, nl bool, raw int) error {
	s.quoted = false
	if cap(s.fields) < s.maxFields {
		s.fields = make([][]byte, 0, s.maxFields)
	}
	fields := s.fields[:s.maxFields]
	n := 0  // fields done
	fs := 0 // start of the current field
	// Bit i of m marks line[base+i] as a candidate for ',' or '"', for the
	// candidates at or after fs: one pass over the line, 64 bytes at a
	// time, finds every field end with few branches.
	base, m := 0, candidates64(line, 0)
	for {
		if fs < len(line) && line[fs] == '"' {
			s.quoted = true
			// Unquote in place: the content so far is line[start:w], and
			// line[r:] is still to be read.
			start := fs + 1
			w, r := start, start
			for {
				i := bytes.IndexByte(line[r:], '"')
				if i < 0 {
					if !nl {
						return s.rowError(`quoted field ` + strconv.Itoa(n+1) + ` is still open at the end of the dump`)
					}
					s.fields = fields[:min(n, len(fields))]
					return s.spanLines(n+1, line[start:w], line[r:], raw)
				}
				if w != r {
					copy(line[w:], line[r:r+i])
				}
				w += i
				r += i + 1
				if r < len(line) && line[r] == '"' {
					line[w] = '"'
					w++
					r++
					continue
				}
				if r < len(line) && line[r] != ',' {
					return s.rowError(`extraneous or missing " in quoted field ` + strconv.Itoa(n+1))
				}
				break
			}
			if n < len(fields) {
				fields[n] = line[start:w:w]
			}
			n++
			if r == len(line) {
				break
			}
			fs = r + 1
			base, m = fs, candidates64(line, fs)
			continue
		}

		// Find the next ',' or '"' among the candidates.
		p := len(line)
		for {
			for m == 0 && base+64 < len(line) {
				base += 64
				m = candidates64(line, base)
			}
			if m == 0 {
				break
			}
			q := base + bits.TrailingZeros64(m)
			m &= m - 1
			if c := line[q]; c == ',' || c == '"' {
				p = q
				break
			}
		}
		if p < len(line) && line[p] == '"' {
			// encoding/csv reports the field whatever follows the quote.
			return s.rowError(`bare " in unquoted field ` + strconv.Itoa(n+1) +
				`: quote the field and double the quotes inside it`)
		}
		if n < len(fields) {
			fields[n] = line[fs:p:p]
		}
		n++
		if p == len(line) {
			break
		}
		fs = p + 1
	}
	s.fields = fields[:min(n, len(fields))]
	s.count = n
	return nil
}

// spanLines finishes a record whose quoted field n runs past the end of
// its first line. s.fields holds the fields before it, and done + rest is
// the content of field n so far. Everything is copied into rec, since the
// window may move when the next line is read. The steps follow
// encoding/csv's readRecord so both agree on every input, including where a
// malformed record ends.
func (s *csvSplitter) spanLines(n int, done, rest []byte, raw int) error {
	s.rec = s.rec[:0]
	s.ends = s.ends[:0]
	for _, f := range s.fields {
		s.rec = append(s.rec, f...)
		s.ends = append(s.ends, len(s.rec))
	}
	s.rec = append(s.rec, done...)
	s.rec = append(s.rec, rest...)

	used := raw // bytes of the record so far, to hold it to maxLine
	var line []byte
	nl, inQuote := true, true
	for {
		if !inQuote {
			// At the start of field n.
			if len(line) > 0 && line[0] == '"' {
				line = line[1:]
				inQuote = true
				continue
			}
			f := line
			i := bytes.IndexByte(line, ',')
			if i >= 0 {
				f = line[:i]
			}
			if bytes.IndexByte(f, '"') >= 0 {
				return s.rowError(`bare " in unquoted field ` + strconv.Itoa(n) +
					`: quote the field and double the quotes inside it`)
			}
			s.rec = append(s.rec, f...)
			s.endField(n)
			if i < 0 {
				break
			}
			n++
			line = line[i+1:]
			continue
		}

		// Inside quoted field n.
		i := bytes.IndexByte(line, '"')
		if i < 0 {
			if !nl {
				return s.rowError(`quoted field ` + strconv.Itoa(n) + ` is still open at the end of the dump`)
			}
			s.rec = append(s.rec, line...)
			s.rec = append(s.rec, '\n')
			used++
			next, nextNL, err := s.lines.next(s.lines.maxLine - used)
			switch {
			case err == io.EOF:
				line, nl = nil, false
				continue
			case err == errLineTooLong:
				return lineLimitError(s.line, s.lines.maxLine)
			case err != nil:
				return err
			}
			used += len(next)
			if len(next) > 0 && next[len(next)-1] == '\r' {
				next = next[:len(next)-1]
			}
			line, nl = next, nextNL
			continue
		}
		s.rec = append(s.rec, line[:i]...)
		line = line[i+1:]
		if len(line) > 0 && line[0] == '"' {
			s.rec = append(s.rec, '"')
			line = line[1:]
			continue
		}
		if len(line) > 0 && line[0] != ',' {
			return s.rowError(`extraneous or missing " in quoted field ` + strconv.Itoa(n))
		}
		s.endField(n)
		if len(line) == 0 {
			break
		}
		n++
		line = line[1:]
		inQuote = false
	}

	fields := s.fields[:0]
	start := 0
	for _, end := range s.ends {
		fields = append(fields, s.rec[start:end:end])
		start = end
	}
	s.fields = fields
	s.count = n
	return nil
}

// endField records the end of field n in rec, if n is within maxFields.
func (s *csvSplitter) endField(n int) {
	if n <= s.maxFields {
		s.ends = append(s.ends, len(s.rec))
	}
}

func (s *csvSplitter) rowError(reason string) error {
	return &RowError{Line: s.line, Reason: reason}
}

// lows has a one in every byte, to repeat a byte across a word (SWAR).
const lows = 0x0101010101010101

// candidates64 returns a mask with bit i set if line[at+i] may be ',' or
// '"', for the 64 bytes from at (SWAR: eight bytes per step, no branch per
// byte; fields are short, so this beats a bytes.IndexByte call per field).
// The candidates are the bytes below '-' (0x2d), which covers both and is
// one subtraction to test; the caller checks each, and most lines of a dump
// have no other such byte.
//
// Lines are slices of the read window, so the 64 bytes usually extend past
// the end of the line into the window; those bits are masked off.
func candidates64(line []byte, at int) uint64 {
	if at+64 > cap(line) {
		return candidates64Tail(line, at)
	}
	b := line[at : at+64]
	m := movemask(candidates(binary.LittleEndian.Uint64(b[0:]))) |
		movemask(candidates(binary.LittleEndian.Uint64(b[8:])))<<8 |
		movemask(candidates(binary.LittleEndian.Uint64(b[16:])))<<16 |
		movemask(candidates(binary.LittleEndian.Uint64(b[24:])))<<24 |
		movemask(candidates(binary.LittleEndian.Uint64(b[32:])))<<32 |
		movemask(candidates(binary.LittleEndian.Uint64(b[40:])))<<40 |
		movemask(candidates(binary.LittleEndian.Uint64(b[48:])))<<48 |
		movemask(candidates(binary.LittleEndian.Uint64(b[56:])))<<56
	if n := len(line) - at; n < 64 {
		m &= 1<<n - 1
	}
	return m
}

// candidates64Tail is candidates64 for the last, partial 64 bytes of line.
func candidates64Tail(line []byte, at int) uint64 {
	var m uint64
	shift := 0
	for ; at+8 <= len(line); at += 8 {
		m |= movemask(candidates(binary.LittleEndian.Uint64(line[at:]))) << shift
		shift += 8
	}
	if at < len(line) {
		word := [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // never candidates
		copy(word[:], line[at:])
		m |= movemask(candidates(binary.LittleEndian.Uint64(word[:]))) << shift
	}
	return m
}

// candidates sets the high bit of every byte of x below 0x2d, and maybe of
// some bytes just above one (a borrow), but never of a byte >= 0x80.
func candidates(x uint64) uint64 {
	return (x - 0x2d*lows) &^ x & (0x80 * lows)
}

// movemask gathers the high bits of the eight bytes of x into the low eight
// bits of the result, byte i to bit i: the multiplication moves each byte's
// bit to a distinct position in the top byte, without carries.
func movemask(x uint64) uint64 {
	return (x >> 7) * 0x0102040810204080 >> 56
}
