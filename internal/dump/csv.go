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
	// m marks the specials (',' and '"') of line[wpos:wpos+8] that are at
	// or after fs: one pass over the line finds every field end.
	wpos, m := 0, specials(line, 0)
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
			wpos, m = fs, specials(line, fs)
			continue
		}

		for m == 0 {
			// specials, inlined by hand: this loop is the hot path.
			wpos += 8
			if wpos+8 <= len(line) {
				x := binary.LittleEndian.Uint64(line[wpos:])
				m = zeroBytes(x^(','*lows)) | zeroBytes(x^('"'*lows))
				continue
			}
			if wpos >= len(line) {
				break
			}
			m = specialsTail(line, wpos)
		}
		p := len(line)
		if m != 0 {
			p = wpos + bits.TrailingZeros64(m)>>3
			m &= m - 1
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

// SWAR constants: a byte repeated across a word.
const (
	lows  = 0x0101010101010101
	highs = 0x7f7f7f7f7f7f7f7f
)

// specials returns a word with the high bit set in each byte of
// line[at:at+8] that is ',' or '"', testing the eight bytes at once (SWAR):
// fields are short, so this beats a bytes.IndexByte call per field.
func specials(line []byte, at int) uint64 {
	if at+8 > len(line) {
		return specialsTail(line, at)
	}
	x := binary.LittleEndian.Uint64(line[at:])
	return zeroBytes(x^(','*lows)) | zeroBytes(x^('"'*lows))
}

// specialsTail is specials for the last, partial word of line.
func specialsTail(line []byte, at int) uint64 {
	if at >= len(line) {
		return 0
	}
	var word [8]byte // zero bytes are not specials
	copy(word[:], line[at:])
	x := binary.LittleEndian.Uint64(word[:])
	return zeroBytes(x^(','*lows)) | zeroBytes(x^('"'*lows))
}

// zeroBytes sets the high bit of each byte of the result whose byte in x is
// zero, exactly (no false positives from borrows between bytes).
func zeroBytes(x uint64) uint64 {
	return ^((x&highs + highs) | x | highs)
}
