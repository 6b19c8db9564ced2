package dump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fastjson"

	"forewarn/internal/readahead"
)

// Default limits, used where a Limits field is zero.
const (
	DefaultMaxDecompressed int64 = 32 << 30
	DefaultMaxLine               = 1 << 20
)

// maxHeaderColumns caps how many header names are kept, so a damaged or
// foreign file whose first line is a megabyte of commas costs no more than a
// real header. Columns past the cap are counted for the field-count check
// but cannot be mapped.
const maxHeaderColumns = 1024

// Limits bound the resources a dump may use. Zero means the default.
type Limits struct {
	// MaxDecompressed bounds the total bytes after gunzip (or the raw bytes
	// of an uncompressed dump). Default 32 GiB.
	MaxDecompressed int64
	// MaxLine bounds the longest physical record: a CSV record including
	// the line ends inside its quoted fields, or an NDJSON line, not
	// counting the final line end. Default 1 MiB.
	MaxLine int
}

// Validate reports a negative limit, naming the field.
func (l Limits) Validate() error {
	if l.MaxDecompressed < 0 {
		return fmt.Errorf("dump limits: MaxDecompressed is %d: want 0 (the default, %s) or a positive byte count",
			l.MaxDecompressed, formatSize(DefaultMaxDecompressed))
	}
	if l.MaxLine < 0 {
		return fmt.Errorf("dump limits: MaxLine is %d: want 0 (the default, %s) or a positive byte count",
			l.MaxLine, formatSize(DefaultMaxLine))
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxDecompressed == 0 {
		l.MaxDecompressed = DefaultMaxDecompressed
	}
	if l.MaxLine == 0 {
		l.MaxLine = DefaultMaxLine
	}
	return l
}

// Format is the encoding of the records in a dump.
type Format string

// The formats a dump may come in.
const (
	FormatCSV    Format = "csv"
	FormatNDJSON Format = "ndjson"
)

// Record is one raw record of a dump. It and every slice in it belong to the
// Reader and are valid only until the next call of Next.
type Record struct {
	// Line is the 1-based physical line where the record starts; for CSV
	// the header is line 1.
	Line int64
	// Fields holds the value of each known column with surrounding white
	// space trimmed (after CSV unquoting or JSON unescaping). It is nil or
	// empty when the column is absent, empty or null. JSON numbers and
	// booleans are given as their literal text.
	Fields [NumColumns][]byte
	// Lists holds, for NDJSON only, the elements of a column whose value was
	// a JSON array: strings trimmed but not split, numbers and booleans as
	// literal text, nulls left out. It is nil otherwise; an empty array may
	// give a nil or empty list.
	Lists [NumColumns][][]byte
}

// Reader decodes the records of a Seclytics "seen predictions" dump from a
// stream, one at a time, with memory bounded by its Limits.
type Reader struct {
	format     Format
	compressed bool
	ahead      *readahead.Reader // inflates in parallel; nil for plain bodies
	count      *countingReader
	lines      *lineReader
	rec        Record
	has        [NumColumns]bool
	// err is io.EOF or a fatal error; once set, Next returns it for good.
	err error

	// CSV state.
	csv     csvSplitter
	columns []string
	width   int             // fields in the header
	colIdx  [NumColumns]int // header position of each column, or -1

	// NDJSON state.
	parser     fastjson.Parser
	bigParse   bool // the parser holds buffers from a large line
	scratch    []byte
	lists      [NumColumns][][]byte
	seen       [NumColumns]bool
	visit      func(key []byte, v *fastjson.Value)
	visitError string
}

// NewReader starts decoding the dump in r. A body that starts with the gzip
// magic bytes (1f 8b) is gunzipped, with every member of a multi-member
// stream read; any other body is taken as is. If the first byte that is not
// white space, after an optional UTF-8 byte order mark, is '{' the dump is
// NDJSON; otherwise it is CSV and NewReader reads its header, failing with an
// error wrapping ErrNoIPColumn if there is no ip column. An empty body, or a
// CSV body with only a header, is not an error: Next returns io.EOF at once.
//
// NewReader does not close r; the caller does once it is done with the
// Reader, after calling Close.
func NewReader(r io.Reader, lim Limits) (_ *Reader, err error) {
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	lim = lim.withDefaults()

	var magic [2]byte
	n, err := io.ReadFull(r, magic[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("read the dump: %w", err)
	}
	src := io.MultiReader(bytes.NewReader(magic[:n]), r)
	d := &Reader{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if n == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		// A *bufio.Reader lets the decompressor read its input byte by byte
		// from memory rather than wrapping it in a buffer of its own.
		zr, err := gzip.NewReader(bufio.NewReaderSize(src, 64<<10))
		if err != nil {
			return nil, classifyReadError(err, true, 0)
		}
		zr.Multistream(true)
		d.ahead = readahead.New(zr, 256<<10, 4)
		src = d.ahead
		d.compressed = true
	}
	d.count = &countingReader{src: src, max: lim.MaxDecompressed, compressed: d.compressed}
	d.lines = newLineReader(d.count, defaultWindow, lim.MaxLine)

	d.lines.skipBOM()
	first, ok, err := d.lines.peekNonBlank()
	switch {
	case err == errLineTooLong:
		return nil, lineLimitError(d.lines.lines+1, d.lines.maxLine)
	case err != nil:
		return nil, err
	case !ok:
		d.format = FormatCSV
		d.err = io.EOF
		return d, nil
	case first == '{':
		d.format = FormatNDJSON
		d.visit = d.visitField
		return d, nil
	case first == '<' || first == '[':
		// An HTML or XML error page, or a JSON array: no CSV header
		// starts with these.
		return nil, fmt.Errorf("%w: the body starts with %q: check the base URL; a proxy or captive portal may have answered instead of Seclytics",
			ErrNotADump, d.lines.peekPrefix(40))
	}
	d.format = FormatCSV
	if err := d.readHeader(); err != nil {
		return nil, err
	}
	return d, nil
}

// readHeader reads the CSV header and maps its names to columns.
func (d *Reader) readHeader() error {
	d.csv = csvSplitter{lines: d.lines, maxFields: maxHeaderColumns}
	for {
		err := d.csv.next()
		if err == io.EOF {
			d.err = io.EOF
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the dump header: %w", err)
		}
		if !d.blankCSVRecord() {
			break
		}
	}
	d.width = d.csv.count
	for c := range d.colIdx {
		d.colIdx[c] = -1
	}
	d.columns = make([]string, len(d.csv.fields))
	for i, f := range d.csv.fields {
		name := strings.TrimSpace(string(f))
		d.columns[i] = name
		for c, want := range ColumnNames {
			if d.colIdx[c] < 0 && len(name) == len(want) && equalFoldASCII([]byte(name), want) {
				d.colIdx[c] = i
				d.has[c] = true
			}
		}
	}
	if d.colIdx[IP] < 0 {
		return fmt.Errorf("%w (columns: %s): check that the file is a Seclytics seen-predictions dump",
			ErrNoIPColumn, describeColumns(d.columns, d.width))
	}
	d.csv.maxFields = len(d.columns)
	return nil
}

// describeColumns lists header names for an error message, shortened so a
// foreign file cannot blow it up.
func describeColumns(names []string, total int) string {
	const maxNames, maxLen = 20, 40
	var b strings.Builder
	for i, name := range names {
		if i == maxNames {
			fmt.Fprintf(&b, ", ... %d more", total-maxNames)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(name) > maxLen {
			name = strings.ToValidUTF8(name[:maxLen], "") + "..."
		}
		if name == "" || !utf8.ValidString(name) || strings.ContainsAny(name, ",\"\x00\r\n") {
			name = strconv.Quote(name)
		}
		b.WriteString(name)
	}
	return b.String()
}

// Format returns the format of the dump.
func (d *Reader) Format() Format { return d.format }

// Compressed reports whether the dump was gzip-compressed.
func (d *Reader) Compressed() bool { return d.compressed }

// Columns returns the header names as found (trimmed), for diagnostics. For
// NDJSON it names the known columns seen so far.
func (d *Reader) Columns() []string {
	if d.format == FormatNDJSON {
		var names []string
		for c, seen := range d.has {
			if seen {
				names = append(names, ColumnNames[c])
			}
		}
		return names
	}
	return append([]string(nil), d.columns...)
}

// Has reports whether the dump carries column c: for CSV whether the header
// names it, for NDJSON whether any object so far had it as a key.
func (d *Reader) Has(c Column) bool {
	return c >= 0 && c < NumColumns && d.has[c]
}

// BytesRead returns how many decompressed bytes the records returned so far
// took up.
func (d *Reader) BytesRead() int64 {
	return d.count.n - int64(d.lines.buffered())
}

// Next returns the next record, valid until the next call of Next. It
// returns io.EOF at the clean end of the dump. A malformed record gives an
// error wrapping *RowError, after which Next may be called again. Any other
// error is fatal (a damaged gzip stream wrapping ErrCorrupt, a limit wrapping
// ErrLimit, an I/O error) and every later call returns it again.
func (d *Reader) Next() (*Record, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.format == FormatNDJSON {
		return d.nextNDJSON()
	}
	return d.nextCSV()
}

func (d *Reader) fail(err error) error {
	d.err = err
	return err
}

func (d *Reader) nextCSV() (*Record, error) {
	for {
		err := d.csv.next()
		if err != nil {
			var rowErr *RowError
			if errors.As(err, &rowErr) {
				return nil, err
			}
			return nil, d.fail(err)
		}
		if d.blankCSVRecord() {
			continue
		}
		if d.csv.count != d.width {
			return nil, &RowError{Line: d.csv.line, Reason: "wrong number of fields: got " +
				strconv.Itoa(d.csv.count) + ", want " + strconv.Itoa(d.width)}
		}
		rec := &d.rec
		rec.Line = d.csv.line
		for c, i := range d.colIdx {
			if i < 0 {
				rec.Fields[c] = nil
				continue
			}
			rec.Fields[c] = trim(d.csv.fields[i])
		}
		return rec, nil
	}
}

// blankCSVRecord reports whether the last record is a line of white space.
// encoding/csv skips only empty lines and would call this a one-field
// record; to a person it is a blank line, so the Reader skips it too.
func (d *Reader) blankCSVRecord() bool {
	return !d.csv.quoted && d.csv.count == 1 && len(trim(d.csv.fields[0])) == 0
}

// trim drops surrounding white space (as bytes.TrimSpace) and caps the
// slice, so a caller that appends to a field cannot overwrite the bytes
// after it. Most values have nothing to trim, which two compares settle.
func trim(b []byte) []byte {
	if len(b) == 0 || plain(b[0]) && plain(b[len(b)-1]) {
		return b[:len(b):len(b)]
	}
	b = bytes.TrimSpace(b)
	return b[:len(b):len(b)]
}

// plain reports whether c is ASCII and not white space, so it cannot be
// part of any space bytes.TrimSpace would trim.
func plain(c byte) bool { return c > ' ' && c < utf8.RuneSelf }

// countingReader counts the decompressed bytes and stops the dump as soon as
// they pass the limit. It also turns read errors into the errors Next
// reports, so a damaged gzip stream wraps ErrCorrupt.
type countingReader struct {
	src        io.Reader
	n, max     int64
	compressed bool
	err        error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	// Read at most one byte past the limit: enough to tell a dump of
	// exactly max bytes from a larger one.
	if rest := c.max - c.n; int64(len(p)) > rest {
		p = p[:rest+1]
	}
	n, err := c.src.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		n -= int(c.n - c.max)
		c.n = c.max
		c.err = decompressedLimitError(c.max)
		return n, c.err
	}
	if err != nil && err != io.EOF {
		c.err = classifyReadError(err, c.compressed, c.n)
		return n, c.err
	}
	return n, err
}

// Close stops the decompressing goroutine of a gzip dump. Call it when done
// with the Reader, however it ended; it is safe to call more than once.
func (d *Reader) Close() error {
	if d.ahead != nil {
		d.ahead.Close()
	}
	return nil
}
