package logscan

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"forewarn/internal/readahead"
)

// Format is a log format.
type Format string

// The formats a Scanner reads.
const (
	// FormatZeek is a Zeek log: TSV with #separator/#fields/#types
	// headers, or Zeek's JSON (one object per line).
	FormatZeek Format = "zeek"
	// FormatEve is Suricata's eve.json: one JSON object per line.
	FormatEve Format = "eve"
	// FormatCombined is the nginx/Apache combined (or common) access log.
	FormatCombined Format = "combined"
	// FormatCSV is CSV with a header line; one record per line.
	FormatCSV Format = "csv"
	// FormatText is any text: every IPv4 and IPv6 token of a line.
	FormatText Format = "text"
)

// Formats lists the formats, for flags and messages.
var Formats = []Format{FormatZeek, FormatEve, FormatCombined, FormatCSV, FormatText}

// ParseFormat returns the format named s ("" for auto-detection).
func ParseFormat(s string) (Format, error) {
	if s == "" || s == "auto" {
		return "", nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown log format %q: use zeek, eve, combined, csv or text (or leave it out to detect it)", s)
}

// DefaultMaxLine is the longest line read when Options.MaxLine is zero.
const DefaultMaxLine = 1 << 20

// detectBytes is how much of the input detection looks at.
const detectBytes = 64 << 10

// Options say how to read a log.
type Options struct {
	// Format forces a format; "" detects it from the first lines.
	Format Format
	// Column names the CSV column holding the address; "" takes every
	// column whose value is an address. Setting it implies CSV when
	// Format is "".
	Column string
	// MaxLine bounds the longest line, in bytes; 0 means DefaultMaxLine.
	MaxLine int
}

// Address is one address found in a line, with the field it came from
// (the Zeek or JSON field name, the CSV column, "client" for an access
// log, "text" for text).
type Address struct {
	Field string
	Addr  netip.Addr
}

// Line is one line of a log. It belongs to the Scanner and is valid only
// until the next call of Next.
type Line struct {
	// Number is the 1-based physical line number in the input.
	Number int64
	// Time is the line's time, in UTC; zero when the format has none or
	// the line's could not be read.
	Time time.Time
	// Addrs are the addresses of the line, in the order they appear.
	Addrs []Address
}

// ErrLineTooLong means a line exceeded MaxLine.
var ErrLineTooLong = errors.New("line too long")

// parser turns one line's bytes into l.Time and l.Addrs (which it appends
// to). It returns an error only for input that makes the rest of the log
// unreadable.
type parser interface {
	parse(b []byte, l *Line) error
}

// Scanner reads a log line by line.
type Scanner struct {
	br      *bufio.Reader
	stop    func()
	format  Format
	p       parser
	line    Line
	n       int64
	err     error
	maxLine int
	gz      bool
}

// New returns a Scanner over r. It reads the first bytes to tell gzip from
// plain text and, unless opts.Format says, the log's format.
func New(r io.Reader, opts Options) (*Scanner, error) {
	if opts.MaxLine < 0 {
		return nil, fmt.Errorf("read log: MaxLine is %d: want 0 (the default, 1 MiB) or a positive byte count", opts.MaxLine)
	}
	if opts.MaxLine == 0 {
		opts.MaxLine = DefaultMaxLine
	}
	s := &Scanner{maxLine: opts.MaxLine, stop: func() {}}
	bufSize := max(opts.MaxLine+1, detectBytes)
	raw := bufio.NewReaderSize(r, 64<<10)
	magic, err := raw.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read log: %w", err)
	}
	var src io.Reader = raw
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("read gzip log: %w", err)
		}
		ahead := readahead.New(zr, readAheadChunk, readAheadChunks)
		src, s.stop = ahead, ahead.Stop
		s.gz = true
	}
	s.br = bufio.NewReaderSize(src, bufSize)
	format := opts.Format
	if format == "" && opts.Column != "" {
		format = FormatCSV
	}
	if format == "" {
		head, err := s.br.Peek(detectBytes)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			s.stop()
			return nil, s.wrap(err)
		}
		format = Detect(head)
	}
	s.format = format
	switch format {
	case FormatZeek:
		s.p = &zeekParser{}
	case FormatEve:
		s.p = newJSONParser()
	case FormatCombined:
		s.p = &combinedParser{}
	case FormatCSV:
		s.p = &csvParser{column: opts.Column}
	case FormatText:
		s.p = &textParser{}
	default:
		s.stop()
		_, err := ParseFormat(string(format))
		return nil, err
	}
	return s, nil
}

// Read-ahead bounds: the decompressing goroutine keeps up to
// readAheadChunks chunks of readAheadChunk bytes (4 MiB) ready. The depth
// matters on a busy machine: through an io.Pipe, whose writes wait until
// the reader has taken everything, neither side could get ahead while the
// other waited for a CPU, and every hand-over woke both
// (docs/performance.md, issue 18).
const (
	readAheadChunk  = 256 << 10
	readAheadChunks = 16
)

// Format returns the format being read.
func (s *Scanner) Format() Format { return s.format }

// Gzip reports whether the input is gzip-compressed.
func (s *Scanner) Gzip() bool { return s.gz }

// Next reads the next line; false at the end of the input or on an error
// (see Err).
func (s *Scanner) Next() bool {
	if s.err != nil {
		return false
	}
	b, err := s.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(b) > s.maxLine+1 {
		s.err = fmt.Errorf("line %d is longer than %d bytes: is this a log? raise --max-line if it is: %w", s.n+1, s.maxLine, ErrLineTooLong)
		return false
	}
	if err != nil && !errors.Is(err, io.EOF) {
		s.err = s.wrap(err)
		return false
	}
	if len(b) == 0 && err != nil {
		return false
	}
	s.n++
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	s.line.Number = s.n
	s.line.Time = time.Time{}
	s.line.Addrs = s.line.Addrs[:0]
	if perr := s.p.parse(b, &s.line); perr != nil {
		s.err = fmt.Errorf("line %d: %w", s.n, perr)
		return false
	}
	return true
}

// Line returns the line Next read; valid until the next call of Next.
func (s *Scanner) Line() *Line { return &s.line }

// Lines returns how many lines were read.
func (s *Scanner) Lines() int64 { return s.n }

// Err returns the error that ended the scan, nil at a clean end.
func (s *Scanner) Err() error { return s.err }

// Close stops the decompressing goroutine, if any. It does not close the
// reader passed to New.
func (s *Scanner) Close() { s.stop() }

func (s *Scanner) wrap(err error) error {
	if s.gz {
		return fmt.Errorf("read gzip log at line %d (is the file truncated or corrupt?): %w", s.n+1, err)
	}
	return fmt.Errorf("read log at line %d: %w", s.n+1, err)
}

// Detect names the format of a log from its first bytes: Zeek TSV headers,
// a JSON object with Suricata's or Zeek's fields, an access log line, a
// CSV header followed by a record with an address, else text.
func Detect(head []byte) Format {
	lines := firstLines(head, 10)
	if len(lines) == 0 {
		return FormatText
	}
	first := lines[0]
	switch {
	case bytes.HasPrefix(first, []byte("#separator")) || bytes.HasPrefix(first, []byte("#fields")):
		return FormatZeek
	case len(first) > 0 && first[0] == '{':
		if bytes.Contains(first, []byte(`"event_type"`)) || bytes.Contains(first, []byte(`"src_ip"`)) {
			return FormatEve
		}
		if bytes.Contains(first, []byte(`"id.orig_h"`)) || bytes.Contains(first, []byte(`"uid"`)) {
			return FormatZeek
		}
		return FormatEve // the JSON reader takes any object
	case looksCombined(first):
		return FormatCombined
	case len(lines) > 1 && looksCSV(lines):
		return FormatCSV
	}
	return FormatText
}

func firstLines(head []byte, n int) [][]byte {
	var out [][]byte
	for len(head) > 0 && len(out) < n {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			i = len(head)
		}
		l := bytes.TrimRight(head[:i], "\r")
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
		head = head[min(i+1, len(head)):]
	}
	return out
}

// looksCSV: a header of several names without an address, then a record of
// as many fields of which one is an address.
func looksCSV(lines [][]byte) bool {
	var p csvParser
	hdr := p.split(lines[0], nil)
	if len(hdr) < 2 {
		return false
	}
	for _, h := range hdr {
		if _, ok := parseAddr(h); ok {
			return false
		}
	}
	rec := p.split(lines[1], nil)
	if len(rec) != len(hdr) {
		return false
	}
	for _, f := range rec {
		if _, ok := parseAddr(f); ok {
			return true
		}
	}
	return false
}

// internNames keeps field names found in the data (JSON keys, CSV
// headers) without allocating per line, up to a bound past which names
// are reported under a generic one.
type internNames struct {
	m map[string]string
}

const maxNames = 1024

func (in *internNames) name(b []byte, other string) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil {
		in.m = map[string]string{}
	}
	if len(in.m) >= maxNames {
		return other
	}
	s := strings.Clone(string(b))
	in.m[s] = s
	return s
}
