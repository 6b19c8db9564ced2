package prediction

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"forewarn/internal/dump"
)

// NoTime marks an absent or unparseable date.
const NoTime = math.MinInt64

// Row is one validated prediction. Byte slices borrow the dump record.
type Row struct {
	Line              int64
	Addr              netip.Addr
	PredictedAt       int64 // Unix seconds, UTC; NoTime if absent
	DetectedAt        int64
	LastSeenAt        int64
	PredictedNetblock netip.Prefix // invalid if absent
	PredictedCategory []byte
	Cluster           []byte
	Importance        float64
	// HasImportance is true for every valid row (an empty importance makes
	// the row invalid); merge keys and filters still test it.
	HasImportance bool

	DetectedBy          [][]byte
	DetectedIdentifiers [][]byte
	DetectedCategories  [][]byte

	// Warnings lists attributes dropped from this row (unparseable dates,
	// invalid netblocks). The row itself is kept.
	Warnings []Problem
}

// Date is the date the date filter uses: Last Seen At, else Detected At,
// else Predicted At. It is NoTime if the row has none of them.
func (r *Row) Date() int64 {
	switch {
	case r.LastSeenAt != NoTime:
		return r.LastSeenAt
	case r.DetectedAt != NoTime:
		return r.DetectedAt
	}
	return r.PredictedAt
}

// Problem is a rejected row or a dropped attribute, for the activity log.
type Problem struct {
	Line    int64  `json:"line"`
	Kind    string `json:"kind"` // KindInvalid or KindWarning
	Message string `json:"message"`
}

// Problem kinds.
const (
	KindInvalid = "invalid"
	KindWarning = "warning"
)

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Kind, p.Message) }

// InvalidError says why a row was rejected.
type InvalidError struct {
	Line   int64
	Reason string
}

func (e *InvalidError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// Limits bound the values a row's attributes may take; an attribute
// outside them is dropped with a warning.
type Limits struct {
	// Latest is the latest date kept, in Unix seconds. Dates before
	// 1970-01-01 or after Latest are dropped: a Last Seen At in year 9999
	// gave expiries that no JSON or STIX timestamp can hold.
	Latest int64
	// MaxNetblock4 and MaxNetblock6 are the shortest prefix lengths
	// (the widest predicted netblocks) kept for IPv4 and IPv6.
	MaxNetblock4, MaxNetblock6 int
}

// MaxFuture is how far after a run's start a date may lie.
const MaxFuture = 365 * 24 * time.Hour

// DefaultLimits are the limits of a run starting at now, with the
// configuration's default max_netblock (/16 and /32).
func DefaultLimits(now time.Time) Limits {
	return Limits{Latest: now.Add(MaxFuture).Unix(), MaxNetblock4: 16, MaxNetblock6: 32}
}

// NewParser returns a parser that applies limits.
func NewParser(limits Limits) *Parser {
	return &Parser{limits: limits, limited: true}
}

// Parser validates rows. Its zero value is ready to use, with
// DefaultLimits as of its first Parse; it is not safe for concurrent use.
type Parser struct {
	limits  Limits
	limited bool
	lists   [3][][]byte
	// seen de-duplicates a long list in linear time; short lists are
	// scanned, which allocates nothing.
	seen map[string]struct{}
	// clean holds the cleaned copies of this row's dirty text values.
	clean []byte
	dirty bool
}

// scanMax is the list length up to which de-duplication scans the list.
const scanMax = 16

// seenMax bounds the set kept between rows: clearing a map costs its
// capacity, so a set grown by one huge list is dropped rather than reused.
const seenMax = 4096

// Parse validates rec into row. A rejected row returns an *InvalidError;
// row is then meaningless.
func (p *Parser) Parse(rec *dump.Record, row *Row) error {
	row.Line = rec.Line
	row.Warnings = row.Warnings[:0]
	if !p.limited {
		p.limits, p.limited = DefaultLimits(time.Now()), true
	}

	addr, ok := ParseIP(rec.Fields[dump.IP])
	if !ok {
		return &InvalidError{rec.Line, fmt.Sprintf("ip %s is not a valid IPv4 or IPv6 address", quote(rec.Fields[dump.IP]))}
	}
	row.Addr = addr

	// The feed's contract: an importance that is not a number in [0, 100]
	// makes the row invalid, and an empty or missing one is not a number.
	v := rec.Fields[dump.Importance]
	if len(v) == 0 {
		return &InvalidError{rec.Line, "importance is empty or missing: every row needs a number from 0 to 100"}
	}
	imp, ok := parseImportance(v)
	if !ok {
		return &InvalidError{rec.Line, fmt.Sprintf("importance %s is not a number from 0 to 100", quote(v))}
	}
	row.Importance, row.HasImportance = imp, true

	row.PredictedAt = p.date(rec, dump.PredictedAt, row)
	row.DetectedAt = p.date(rec, dump.DetectedAt, row)
	row.LastSeenAt = p.date(rec, dump.LastSeenAt, row)

	row.PredictedNetblock = p.netblock(rec, row)

	p.clean, p.dirty = p.clean[:0], false
	row.PredictedCategory = bytes.TrimSpace(p.text(rec.Fields[dump.PredictedCategory]))
	row.Cluster = bytes.TrimSpace(p.text(rec.Fields[dump.Cluster]))
	row.DetectedBy = p.list(rec, dump.DetectedBy, 0, false)
	row.DetectedIdentifiers = p.list(rec, dump.DetectedIdentifiers, 1, false)
	row.DetectedCategories = p.list(rec, dump.DetectedCategories, 2, true)
	if p.dirty {
		row.Warnings = append(row.Warnings, Problem{rec.Line, KindWarning,
			"text held invalid UTF-8 or control characters: invalid bytes replaced with U+FFFD, control characters removed"})
	}
	return nil
}

// text returns v as every store keeps it alike: invalid UTF-8 replaced
// with U+FFFD, C0 control characters but tab removed. PostgreSQL refuses
// NUL and invalid UTF-8 where SQLite stores them, and U+001F separates
// stored list values. A clean value (the usual case) is returned as is; a
// dirty one is copied into the parser's buffer and the row marked dirty.
func (p *Parser) text(v []byte) []byte {
	i := 0
	for i < len(v) && v[i] >= 0x20 && v[i] < utf8.RuneSelf {
		i++
	}
	if i == len(v) || utf8.Valid(v[i:]) && !hasControl(v[i:]) {
		return v
	}
	p.dirty = true
	start := len(p.clean)
	p.clean = append(p.clean, v[:i]...)
	for i < len(v) {
		r, n := utf8.DecodeRune(v[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			p.clean = utf8.AppendRune(p.clean, utf8.RuneError)
		case r < 0x20 && r != '\t':
		default:
			p.clean = append(p.clean, v[i:i+n]...)
		}
		i += n
	}
	return p.clean[start:len(p.clean):len(p.clean)]
}

// hasControl reports whether v holds a C0 control character other than tab.
func hasControl(v []byte) bool {
	for _, c := range v {
		if c < 0x20 && c != '\t' {
			return true
		}
	}
	return false
}

// netblock parses the row's predicted netblock. It is dropped with a
// warning unless it is a CIDR prefix that contains the row's address and
// is no wider than the limits: a 0.0.0.0/0 made exports block the whole
// Internet and lookups put every address in a predicted netblock.
func (p *Parser) netblock(rec *dump.Record, row *Row) netip.Prefix {
	v := rec.Fields[dump.PredictedNetblock]
	if len(v) == 0 {
		return netip.Prefix{}
	}
	drop := func(why string) netip.Prefix {
		row.Warnings = append(row.Warnings, Problem{rec.Line, KindWarning,
			fmt.Sprintf("predicted_netblock %s %s; attribute dropped", quote(v), why)})
		return netip.Prefix{}
	}
	pfx, ok := parsePrefix(v)
	if !ok {
		return drop("is not a CIDR prefix")
	}
	if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	pfx = pfx.Masked()
	widest := p.limits.MaxNetblock6
	if pfx.Addr().Is4() {
		widest = p.limits.MaxNetblock4
	}
	switch {
	case !pfx.Contains(row.Addr):
		return drop("does not contain the row's ip " + row.Addr.String())
	case pfx.Bits() < widest:
		return drop(fmt.Sprintf("is wider than max_netblock /%d", widest))
	}
	return pfx
}

func (p *Parser) date(rec *dump.Record, c dump.Column, row *Row) int64 {
	v := rec.Fields[c]
	if len(v) == 0 {
		return NoTime
	}
	t, ok := ParseDate(v)
	if !ok {
		row.Warnings = append(row.Warnings, Problem{rec.Line, KindWarning,
			fmt.Sprintf("%s %s is not a date; attribute dropped", c, quote(v))})
		return NoTime
	}
	if t < 0 || t > p.limits.Latest {
		row.Warnings = append(row.Warnings, Problem{rec.Line, KindWarning,
			fmt.Sprintf("%s %s is outside 1970-01-01 to %s (a year after the run); attribute dropped",
				c, quote(v), time.Unix(p.limits.Latest, 0).UTC().Format(time.DateOnly))})
		return NoTime
	}
	return t
}

// list splits, trims and de-duplicates a list column into the parser's
// scratch slot. Category values are lower-cased in place.
func (p *Parser) list(rec *dump.Record, c dump.Column, slot int, lower bool) [][]byte {
	out := p.lists[slot][:0]
	add := func(v []byte) {
		v = bytes.TrimSpace(p.text(v))
		if len(v) == 0 {
			return
		}
		if lower {
			lowerASCII(v)
		}
		if p.isDuplicate(out, v) {
			return
		}
		out = append(out, v)
	}
	if elems := rec.Lists[c]; elems != nil {
		for _, e := range elems {
			add(e)
		}
	} else {
		v := rec.Fields[c]
		for len(v) > 0 {
			i := indexListSep(v)
			if i < 0 {
				add(v)
				break
			}
			add(v[:i])
			v = v[i+1:]
		}
	}
	p.lists[slot] = out
	return out
}

// indexListSep is bytes.IndexAny(v, ";|,") without building the byte
// set on every call: it ran three times per row.
func indexListSep(v []byte) int {
	for i, c := range v {
		if c == ';' || c == '|' || c == ',' {
			return i
		}
	}
	return -1
}

// isDuplicate reports whether v is in out, the values a list kept so far,
// and records v otherwise. Past scanMax values it switches to a hash set
// (filled with what out already holds), so that a row with 100,000
// distinct values costs linear time, not quadratic.
func (p *Parser) isDuplicate(out [][]byte, v []byte) bool {
	switch {
	case len(out) < scanMax:
		for _, have := range out {
			if bytes.Equal(have, v) {
				return true
			}
		}
		return false
	case len(out) == scanMax:
		if p.seen == nil || len(p.seen) > seenMax {
			p.seen = make(map[string]struct{}, 2*scanMax)
		} else {
			clear(p.seen)
		}
		for _, have := range out {
			p.seen[string(have)] = struct{}{}
		}
	}
	if _, dup := p.seen[string(v)]; dup {
		return true
	}
	p.seen[string(v)] = struct{}{}
	return false
}

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// ParseIP parses an IPv4 or IPv6 address into canonical form: IPv4-mapped
// IPv6 is unmapped, zones and IPv4 octets with leading zeros are refused.
func ParseIP(b []byte) (netip.Addr, bool) {
	if a, ok := parseIPv4(b); ok {
		return a, true
	}
	if bytes.IndexByte(b, ':') < 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parsePrefix parses a CIDR prefix as netip.ParsePrefix does, refusing
// zones. A dotted quad with a plain prefix length, the usual case, takes an
// allocation-free path; anything else goes to the standard library.
func parsePrefix(b []byte) (netip.Prefix, bool) {
	if i := bytes.IndexByte(b, '/'); i > 0 && i < len(b)-1 && len(b)-i <= 3 {
		if a, ok := parseIPv4(b[:i]); ok {
			bits, digits := 0, b[i+1:]
			for _, c := range digits {
				if c < '0' || c > '9' {
					bits = -1
					break
				}
				bits = bits*10 + int(c-'0')
			}
			if bits >= 0 && bits <= 32 && (len(digits) == 1 || digits[0] != '0') {
				return netip.PrefixFrom(a, bits), true
			}
		}
	}
	pfx, err := netip.ParsePrefix(string(b))
	if err != nil || pfx.Addr().Zone() != "" {
		return netip.Prefix{}, false
	}
	return pfx, true
}

// parseIPv4 is the allocation-free fast path for dotted quads.
func parseIPv4(b []byte) (netip.Addr, bool) {
	var ip [4]byte
	n, digits, val := 0, 0, 0
	for i := 0; i <= len(b); i++ {
		if i == len(b) || b[i] == '.' {
			if digits == 0 || n == 4 {
				return netip.Addr{}, false
			}
			ip[n] = byte(val)
			n, digits, val = n+1, 0, 0
			continue
		}
		c := b[i]
		if c < '0' || c > '9' || (digits == 1 && val == 0) { // leading zero
			return netip.Addr{}, false
		}
		val = val*10 + int(c-'0')
		digits++
		if val > 255 {
			return netip.Addr{}, false
		}
	}
	if n != 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(ip), true
}

// parseImportance accepts a decimal number in [0, 100]: digits with at most
// one decimal point, nothing else (no signs, exponents, NaN or hex).
func parseImportance(b []byte) (float64, bool) {
	dots, intVal := 0, 0
	for _, c := range b {
		switch {
		case c == '.':
			dots++
		case c >= '0' && c <= '9':
			if dots == 0 && intVal <= 1000 {
				intVal = intVal*10 + int(c-'0')
			}
		default:
			return 0, false
		}
	}
	if dots > 1 || len(b) == dots {
		return 0, false
	}
	if dots == 0 {
		return float64(intVal), intVal <= 100
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > 100 {
		return 0, false
	}
	return f, true
}

// FormatImportance writes a score as it was given: 85.5 as "85.5", 70 as "70".
func FormatImportance(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// ParseDate accepts 2006-01-02T15:04:05 (no zone means UTC), the same with Z
// or an offset (and fractional seconds), 2006-01-02 15:04:05 and 2006-01-02,
// and returns Unix seconds.
func ParseDate(b []byte) (int64, bool) {
	n := len(b)
	if n < 10 {
		return 0, false
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !ok1 || !ok2 || !ok3 || b[4] != '-' || b[7] != '-' || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, false
	}
	days := daysFromCivil(y, mo, d)
	if n == 10 {
		return days * 86400, true
	}
	if n < 19 || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	h, ok1 := num(b[11:13])
	mi, ok2 := num(b[14:16])
	s, ok3 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	secs := days*86400 + int64(h*3600+mi*60+s)
	switch {
	case n == 19:
		return secs, true
	case n == 20 && (b[19] == 'Z' || b[19] == 'z'):
		return secs, true
	}
	// Offsets and fractions are rare: let the standard library decide.
	s2 := string(b)
	if b[10] == ' ' {
		s2 = s2[:10] + "T" + s2[11:]
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s2); err == nil {
			return t.Unix(), true
		}
	}
	return 0, false
}

func num(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is Howard Hinnant's algorithm: days since 1970-01-01.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // floor division: Go's / truncates toward zero
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// quote shows a value in a message, shortened and made printable.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return strconv.Quote(string(b)) + "…"
	}
	return strconv.Quote(string(b))
}
