package feeddef

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"forewarn/internal/indicator"
)

// Params are what one run passes to a Reader besides the body.
type Params struct {
	// Settings are the parameter values as text; see Definition.Settings.
	Settings map[string]string
	// Since and Until bound the date window filters, [Since, Until); a zero
	// time leaves that side open.
	Since, Until time.Time
	// Now is the run's time: dates later than a year after it (and before
	// 1970) are dropped with a warning. Zero drops only dates before 1970.
	Now time.Time
}

// MaxFuture is how far after Params.Now a date may lie.
const MaxFuture = 365 * 24 * time.Hour

// MaxProblems is how many invalid lines a Reader keeps; the rest are
// only counted.
const MaxProblems = 100

// Entry is one indicator read from a feed. It and its slices are valid
// until the next call of Next.
type Entry struct {
	// Prefix is the indicator: a single address as a /32 or /128, or a
	// network, always masked; IPv4-mapped IPv6 is unmapped.
	Prefix netip.Prefix
	// Line is the source line the entry starts on (1-based).
	Line int64
	// FirstSeen and LastSeen are the feed's own dates, zero when the
	// definition does not map them or the line has none.
	FirstSeen, LastSeen time.Time
	// Attrs are the entry's attributes in definition order (mapped, then
	// derived), only those present and selected.
	Attrs []Attr
	// Warnings say which attributes of this line were dropped and why.
	Warnings []string
}

// Attr is one attribute of an entry.
type Attr struct {
	Name  string
	Value indicator.Value
}

// Attr returns the value of the attribute called name; KindNone if the
// entry does not carry it.
func (e *Entry) Attr(name string) indicator.Value {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return indicator.Value{}
}

// LineProblem is an invalid line and why.
type LineProblem struct {
	Line    int64
	Message string
}

func (p LineProblem) String() string { return fmt.Sprintf("line %d: %s", p.Line, p.Message) }

// Stats counts what a Reader did so far.
type Stats struct {
	// Lines is the number of lines read, comments and blanks included.
	Lines int64
	// Entries is the number of entries Next returned.
	Entries int64
	// Invalid is the number of invalid lines (see Problems).
	Invalid int64
	// Filtered counts the entries each filter dropped, in the order of
	// Definition.Filters (an entry is counted by the first that drops it).
	Filtered []int64
	// Warnings is the number of attributes dropped from kept lines.
	Warnings int64
}

// ErrFormat is wrapped by errors that end a parse because the body is not
// in the definition's format as a whole (a CSV header without a column the
// mapping needs, a record format with no record).
var ErrFormat = errors.New("feed body does not match the definition's format")

// Reader reads entries from a feed body. It is not safe for concurrent
// use.
type Reader struct {
	d    *Definition
	kind string // the format kind; a CSV with accept_ndjson may turn to NDJSON
	set  Settings
	p    Params
	lr   *lineReader

	long  []byte
	refs  []string
	vals  [][]byte
	has   []bool
	array []bool // per ref: the value joins a JSON array's items with ListSep
	plan  plan
	entry Entry

	// all holds every attribute, mapped then derived, named once: an
	// entry whose attributes are all present and shown is handed out as
	// it is, with nothing copied.
	all      []Attr
	allShown bool // every mapped attribute selected
	shown    []Attr
	bands    []bandTable // per derived attribute
	lists    [][]string
	selected []bool
	warned   bool
	strs     map[string]string
	recent   [256]string // see intern
	dates    []dateMemo  // per ref
	memo     []valueMemo // per mapped attribute
	dirty    int         // texts cleaned so far; a cleaned value is not memoized
	// filterAttrs holds, per filter, the indices in values of the
	// attributes it reads.
	filterAttrs [][]int
	window      []indicator.Value
	// Per filter: whether its when parameter turns it on, and the number
	// or list of its parameter; per derived attribute: whether it is on
	// and the index in values of the attribute it derives from.
	filterOn      []bool
	filterMin     []float64
	filterAllowed [][]string
	derivedOn     []bool
	derivedFrom   []int
	// latest is the latest date kept, in Unix seconds (Now + MaxFuture).
	latest int64

	csv       csvSplitter
	colOf     []int // per ref: CSV column or line field index
	headerOK  bool
	width     int
	comment   []byte
	json      fastjson.Parser
	paths     [][]string
	scratch   [][]byte
	recordOf  map[string]int
	entryOf   []int // per entry field: ref index or -1
	inRecord  bool
	entryLine []byte

	stats    Stats
	problems []LineProblem
	err      error
}

// NewReader returns a Reader of the feed body r (decompressed: see
// Decompress) with the run's parameters. It fails only on settings that
// do not fit the definition.
func (d *Definition) NewReader(r io.Reader, p Params) (*Reader, error) {
	set, err := d.Settings(p.Settings)
	if err != nil {
		return nil, err
	}
	rd := &Reader{d: d, kind: d.Format.Kind, set: set, p: p, lr: newLineReader(r, d.Format.MaxLine)}
	rd.compile()
	rd.stats.Filtered = make([]int64, len(d.Filters))
	rd.csv = newCSVSplitter(delimiter(d.Format.Delimiter), d.Format.Quote == nil || *d.Format.Quote, d.Format.MaxLine)
	return rd, nil
}

// NewMapper returns a Reader that reads no body: it maps records split
// elsewhere, given to MapFields. The Seclytics runner decodes its dumps
// with the dump package (gzip read ahead, RFC 4180 CSV or NDJSON, its
// limits and error texts) and maps every record through seclytics.yaml.
func (d *Definition) NewMapper(p Params) (*Reader, error) {
	return d.NewReader(bytes.NewReader(nil), p)
}

// Fields returns the names of the fields the definition reads, in the
// order MapFields takes their values. The slice is the Reader's own.
func (r *Reader) Fields() []string { return r.refs }

// MapFields maps one record split elsewhere: vals[i] is the value of
// Fields()[i] (nil or empty when absent), or, when arrays[i] is set, that
// field was a JSON array and vals[i] joins its items with ListSep. It
// returns why the record is invalid (counted and kept as Next does), the
// index in Definition.Filters of the filter that dropped it, or the entry
// (filtered is then -1). The entry is valid until the next call.
func (r *Reader) MapFields(line int64, vals [][]byte, arrays []bool) (e *Entry, why string, filtered int) {
	r.clear()
	for i, v := range vals {
		if i < len(r.vals) && len(v) > 0 {
			r.set1(i, v)
			r.array[i] = i < len(arrays) && arrays[i]
		}
	}
	r.stats.Lines++
	r.entry.Line = line
	if why := r.build(); why != "" {
		r.invalid(line, why)
		return nil, why, -1
	}
	if i := r.filter(); i >= 0 {
		r.dropped(i)
		return nil, "", i
	}
	r.rest()
	r.finish()
	r.stats.Entries++
	return &r.entry, "", -1
}

// Value returns the value of the last entry for the attribute at index i
// of Definition.AttributeNames (KindNone when the line has none), whether
// or not the selection shows it: a caller that knows the definition reads
// its attributes by position, not by name. It is valid until the next call
// of Next or MapFields.
func (r *Reader) Value(i int) *indicator.Value { return &r.all[i].Value }

// Problems returns the invalid lines kept so far (at most MaxProblems).
func (r *Reader) Problems() []LineProblem { return r.problems }

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// Next returns the next entry that is valid and passes the filters, or
// io.EOF at the end. An invalid line is counted, kept (see Problems) and
// skipped; any other error ends the parse and is returned again by every
// later call.
func (r *Reader) Next() (*Entry, error) {
	for r.err == nil {
		line, why, ok, err := r.decode()
		switch {
		case err != nil:
			r.err = err
		case !ok:
			r.err = io.EOF
		case why != "":
			r.invalid(line, why)
		default:
			r.entry.Line = line
			if why := r.build(); why != "" {
				r.invalid(line, why)
				continue
			}
			if i := r.filter(); i >= 0 {
				r.dropped(i)
				continue
			}
			r.rest()
			r.finish()
			r.stats.Entries++
			return &r.entry, nil
		}
	}
	return nil, r.err
}

// dropped counts a line filter i dropped. Its warnings so far are not
// counted: Stats.Warnings is about kept lines.
func (r *Reader) dropped(i int) {
	r.stats.Filtered[i]++
	r.stats.Warnings -= int64(len(r.entry.Warnings))
}

func (r *Reader) invalid(line int64, why string) {
	r.stats.Invalid++
	if len(r.problems) < MaxProblems {
		r.problems = append(r.problems, LineProblem{line, why})
	}
}

// nextLine reads a line, counting it.
func (r *Reader) nextLine() ([]byte, bool, error) {
	b, err := r.lr.next(&r.long)
	if err != nil && errors.Is(err, io.EOF) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read feed %s: %w", r.d.ID, err)
	}
	r.stats.Lines++
	return b, true, nil
}

// skippable reports whether a line is blank or a comment.
func (r *Reader) skippable(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	t := b[i:]
	if len(t) == 0 {
		return true
	}
	for _, p := range r.d.Format.Comments {
		if bytes.HasPrefix(t, []byte(p)) {
			return true
		}
	}
	return false
}

// decode reads up to the next candidate entry and fills r.vals. It
// returns the entry's line, or why that line is invalid; ok is false at
// the end of the body.
func (r *Reader) decode() (line int64, why string, ok bool, err error) {
	switch r.kind {
	case KindCSV:
		return r.decodeCSV()
	case KindLines:
		return r.decodeLines()
	case KindNDJSON:
		return r.decodeNDJSON()
	}
	return r.decodeRecords()
}

func (r *Reader) clear() {
	clear(r.has)
	clear(r.array)
}

func (r *Reader) set1(ref int, v []byte) {
	if ref >= 0 {
		r.vals[ref], r.has[ref] = trim(v), true
	}
}

// trim is bytes.TrimSpace with the usual case, a value that starts and
// ends with a printable ASCII character, settled by two comparisons.
func trim(v []byte) []byte {
	if n := len(v); n > 0 && v[0] > ' ' && v[0] < utf8.RuneSelf && v[n-1] > ' ' && v[n-1] < utf8.RuneSelf {
		return v
	}
	return bytes.TrimSpace(v)
}

func (r *Reader) decodeLines() (int64, string, bool, error) {
	f := &r.d.Format
	for {
		b, ok, err := r.nextLine()
		if !ok || err != nil {
			return 0, "", false, err
		}
		if f.InlineComment != "" {
			if i := bytes.Index(b, []byte(f.InlineComment)); i >= 0 {
				b = b[:i]
			}
		}
		if r.skippable(b) {
			continue
		}
		r.clear()
		b = bytes.TrimSpace(b)
		n := len(f.Fields)
		for i := 0; i < n && len(b) > 0; i++ {
			var v []byte
			v, b = splitField(b, f.Separator, i == n-1)
			r.set1(r.colOf[i], v)
		}
		return r.lr.line, "", true, nil
	}
}

func (r *Reader) decodeCSV() (int64, string, bool, error) {
	f := &r.d.Format
	more := func() ([]byte, bool, error) { return r.nextLine() }
	for {
		b, ok, err := r.nextLine()
		if !ok || err != nil {
			// An empty body is an empty list; comments without the
			// header row are not a CSV of this definition.
			if err == nil && !r.headerOK && f.Header != "none" && r.stats.Lines > 0 {
				err = fmt.Errorf("feed %s: %w: no header row before the end of the body", r.d.ID, ErrFormat)
			}
			return 0, "", false, err
		}
		if r.skippable(b) {
			if c := stripComment(b, f.Comments); f.Header == "comment" && !r.headerOK && len(c) > 0 {
				r.comment = append(r.comment[:0], c...)
			}
			continue
		}
		line := r.lr.line
		if !r.headerOK && f.AcceptNDJSON && bytes.TrimLeft(b, " \t")[0] == '{' {
			// An NDJSON body with the column names as keys.
			r.kind = KindNDJSON
			for _, name := range r.refs {
				r.paths = append(r.paths, []string{name})
			}
			if why, skip := r.ndjsonLine(b); !skip {
				return line, why, true, nil
			}
			return r.decodeNDJSON()
		}
		if !r.headerOK && f.Header == "comment" {
			if len(r.comment) == 0 {
				return 0, "", false, fmt.Errorf("feed %s: %w: line %d is data but no comment line before it names the columns", r.d.ID, ErrFormat, line)
			}
			if err := r.header(append([]byte(nil), r.comment...), line); err != nil {
				return 0, "", false, err
			}
		}
		why, err := r.csv.split(b, more)
		if errors.Is(err, errQuotedTooLong) {
			return 0, "", false, fmt.Errorf("read feed %s: the record starting on line %d is longer than max_line (%d bytes): %w", r.d.ID, line, f.MaxLine, ErrLineTooLong)
		}
		if err != nil {
			return 0, "", false, err
		}
		if why != "" {
			return line, why, true, nil
		}
		if !r.headerOK {
			if err := r.headerFields(line); err != nil {
				return 0, "", false, err
			}
			continue
		}
		if f.StrictFields && r.csv.fields() != r.width {
			return line, fmt.Sprintf("has %d fields, the header has %d", r.csv.fields(), r.width), true, nil
		}
		r.clear()
		for ref, col := range r.colOf {
			if col < r.csv.fields() {
				r.set1(ref, r.csv.field(col))
			}
		}
		return line, "", true, nil
	}
}

func stripComment(b []byte, prefixes []string) []byte {
	t := bytes.TrimLeft(b, " \t")
	for _, p := range prefixes {
		if bytes.HasPrefix(t, []byte(p)) {
			return bytes.TrimSpace(t[len(p):])
		}
	}
	return t
}

// header reads the column names of a comment header.
func (r *Reader) header(b []byte, line int64) error {
	why, err := r.csv.split(b, func() ([]byte, bool, error) { return nil, false, nil })
	if err != nil || why != "" {
		return fmt.Errorf("feed %s: %w: the comment naming the columns before line %d: %s", r.d.ID, ErrFormat, line, why)
	}
	return r.headerFields(line)
}

// headerFields maps the referenced fields to the columns just split.
func (r *Reader) headerFields(line int64) error {
	names := make([]string, r.csv.fields())
	for i := range names {
		names[i] = strings.TrimSpace(string(r.csv.field(i)))
	}
	for ref, name := range r.refs {
		i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
		if i < 0 {
			return fmt.Errorf("feed %s: %w: the header (line %d) has no column %q; it has %s", r.d.ID, ErrFormat, line, name, quoteAll(names))
		}
		r.colOf[ref] = i
	}
	r.width = len(names)
	r.headerOK = true
	return nil
}

// nextData returns the next line that is neither blank nor a comment.
func (r *Reader) nextData() ([]byte, bool, error) {
	for {
		b, ok, err := r.nextLine()
		if !ok || err != nil || !r.skippable(b) {
			return b, ok, err
		}
	}
}

// splitField cuts the first field off b: at sep, or at the first run of
// blanks when sep is empty; last takes all of b.
func splitField(b []byte, sep string, last bool) (field, rest []byte) {
	if last {
		return b, nil
	}
	if sep != "" {
		if j := bytes.Index(b, []byte(sep)); j >= 0 {
			return b[:j], b[j+len(sep):]
		}
		return b, nil
	}
	if j := bytes.IndexAny(b, " \t"); j >= 0 {
		return b[:j], bytes.TrimLeft(b[j:], " \t")
	}
	return b, nil
}

func (r *Reader) decodeNDJSON() (int64, string, bool, error) {
	for {
		b, ok, err := r.nextData()
		if !ok || err != nil {
			return 0, "", false, err
		}
		if why, skip := r.ndjsonLine(b); !skip {
			return r.lr.line, why, true, nil
		}
	}
}

// ndjsonLine fills the fields from one JSON line. It returns why the line
// is invalid, or skip for a line skip_if leaves out.
func (r *Reader) ndjsonLine(b []byte) (why string, skip bool) {
	v, err := r.json.ParseBytes(b)
	if err != nil {
		return "not a JSON value: " + err.Error(), false
	}
	if v.Type() != fastjson.TypeObject {
		return "not a JSON object", false
	}
	if f := r.d.Format.SkipIf; f != nil {
		if s := v.Get(splitPath(f.Field)...); s != nil && s.Type() == fastjson.TypeString && string(s.GetStringBytes()) == f.Equals {
			return "", true
		}
	}
	r.clear()
	for ref, path := range r.paths {
		fv := v.Get(path...)
		if fv == nil || fv.Type() == fastjson.TypeNull {
			continue
		}
		r.scratch[ref] = appendJSON(r.scratch[ref][:0], fv)
		r.set1(ref, r.scratch[ref])
		r.array[ref] = fv.Type() == fastjson.TypeArray
	}
	return "", false
}

// ListSep joins the items of a JSON array; list attributes always split
// on it.
const ListSep = '\x1f'

func appendJSON(b []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeString:
		return append(b, v.GetStringBytes()...)
	case fastjson.TypeArray:
		for i, it := range v.GetArray() {
			if i > 0 {
				b = append(b, ListSep)
			}
			b = appendJSON(b, it)
		}
		return b
	}
	return v.MarshalTo(b)
}

func splitPath(p string) []string { return strings.Split(p, ".") }

func (r *Reader) decodeRecords() (int64, string, bool, error) {
	f := &r.d.Format
	for {
		b, ok, err := r.nextData()
		if !ok || err != nil {
			return 0, "", false, err
		}
		key, val := splitField(bytes.TrimSpace(b), "", false)
		switch string(key) {
		case f.RecordStart:
			r.inRecord = true
			r.clear()
		case f.EntryKey:
			if !r.inRecord {
				return r.lr.line, fmt.Sprintf("%s comes before any %s line", f.EntryKey, f.RecordStart), true, nil
			}
			for _, ref := range r.entryOf {
				if ref >= 0 {
					r.has[ref] = false
				}
			}
			r.entryLine = append(r.entryLine[:0], val...)
			v := r.entryLine
			for i, ref := range r.entryOf {
				var fv []byte
				fv, v = splitField(v, "", i == len(r.entryOf)-1)
				if len(fv) > 0 {
					r.set1(ref, fv)
				}
			}
			return r.lr.line, "", true, nil
		}
		if ref, ok := r.recordOf[string(key)]; ok && r.inRecord {
			r.scratch[ref] = append(r.scratch[ref][:0], val...)
			r.set1(ref, r.scratch[ref])
		}
	}
}

func delimiter(s string) byte {
	if s == "" {
		return ','
	}
	return s[0]
}
