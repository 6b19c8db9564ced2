package feeddef

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
)

// plan is a definition compiled for one Reader: field references resolved
// to indices.
type plan struct {
	ind, plen, first, last int // ref indices, -1 when unmapped
	// firstQuiet and lastQuiet are set when a date attribute reads the
	// same field with the same layouts: a bad date there is warned about
	// once, by the attribute.
	firstQuiet, lastQuiet bool
	max4, max6            int
	attrs                 []attrPlan
}

type attrPlan struct {
	a        *Attribute
	ref      int
	constant indicator.Value
	max4     int
	max6     int
	// singleSeps holds the separators of a list whose separators are all
	// one byte long; isSep marks the
	// same bytes, for a scan without setting up a set per value.
	singleSeps string
	multiSeps  bool // a separator is longer than a byte
	// early is set for an attribute that is required or that a filter
	// which is on reads: build maps it before the filters run.
	early bool
	isSep [256]bool
}

// ref returns the index of field name among the referenced fields,
// adding it.
func (r *Reader) ref(name string) int {
	if i := slices.Index(r.refs, name); i >= 0 {
		return i
	}
	r.refs = append(r.refs, name)
	return len(r.refs) - 1
}

func (r *Reader) compile() {
	d := r.d
	m := d.Indicator
	r.plan = plan{ind: r.ref(m.Field), plen: -1, first: -1, last: -1,
		max4: maxBits(m.MaxPrefix, true, DefaultMaxPrefix4), max6: maxBits(m.MaxPrefix, false, DefaultMaxPrefix6)}
	if m.PrefixLengthField != "" {
		r.plan.plen = r.ref(m.PrefixLengthField)
	}
	if m.FirstSeen != nil {
		r.plan.first = r.ref(m.FirstSeen.Field)
	}
	if m.LastSeen != nil {
		r.plan.last = r.ref(m.LastSeen.Field)
	}
	for i := range d.Attributes {
		a := &d.Attributes[i]
		ap := attrPlan{a: a, ref: -1, max4: maxBits(a.MaxPrefix, true, 0), max6: maxBits(a.MaxPrefix, false, 0)}
		ap.singleSeps = ""
		for _, sep := range a.Separators {
			if len(sep) != 1 {
				ap.singleSeps = ""
				break
			}
			ap.singleSeps += sep
		}
		ap.multiSeps = ap.singleSeps == "" && len(a.Separators) > 0
		for _, c := range []byte(ap.singleSeps) {
			ap.isSep[c] = true
		}
		if a.Type == TypeConstant {
			ap.constant = indicator.TextValue(a.Value)
		} else {
			ap.ref = r.ref(a.Field)
		}
		r.plan.attrs = append(r.plan.attrs, ap)
		if a.Type == TypeDate {
			r.plan.firstQuiet = r.plan.firstQuiet || m.FirstSeen != nil && ap.ref == r.plan.first && slices.Equal(a.Layouts, m.FirstSeen.Layouts)
			r.plan.lastQuiet = r.plan.lastQuiet || m.LastSeen != nil && ap.ref == r.plan.last && slices.Equal(a.Layouts, m.LastSeen.Layouts)
		}
	}
	r.latest = math.MaxInt64
	if !r.p.Now.IsZero() {
		r.latest = r.p.Now.Add(MaxFuture).Unix()
	}
	n := len(r.refs)
	r.vals, r.has, r.array, r.scratch = make([][]byte, n), make([]bool, n), make([]bool, n), make([][]byte, n)
	r.dates = make([]dateMemo, n)
	r.colOf = make([]int, n)
	switch d.Format.Kind {
	case KindCSV:
		if d.Format.Header == "none" {
			for i, name := range r.refs {
				r.colOf[i] = slices.Index(d.Format.Columns, name)
			}
			r.width, r.headerOK = len(d.Format.Columns), true
		}
	case KindLines:
		for i := range r.colOf {
			r.colOf[i] = -1
		}
		r.colOf = make([]int, len(d.Format.Fields))
		for i, name := range d.Format.Fields {
			r.colOf[i] = slices.Index(r.refs, name)
		}
	case KindNDJSON:
		for _, name := range r.refs {
			r.paths = append(r.paths, splitPath(name))
		}
	case KindRecords:
		r.recordOf = map[string]int{}
		for i, name := range r.refs {
			if !slices.Contains(d.Format.EntryFields, name) {
				r.recordOf[name] = i
			}
		}
		for _, name := range d.Format.EntryFields {
			r.entryOf = append(r.entryOf, slices.Index(r.refs, name))
		}
	}
	for _, f := range d.Filters {
		var idx []int
		for _, a := range append([]string{f.Attribute}, f.Attributes...) {
			if a != "" {
				idx = append(idx, d.attrIndex(a))
			}
		}
		r.filterAttrs = append(r.filterAttrs, idx)
		// The settings a filter reads, resolved once rather than looked
		// up by name on every line.
		r.filterOn = append(r.filterOn, f.When == "" || r.set.Bool(f.When))
		r.filterMin = append(r.filterMin, r.set.Number(f.Parameter))
		var allowed []string
		for _, a := range r.set.List(f.Parameter) {
			allowed = append(allowed, strings.TrimSpace(a))
		}
		r.filterAllowed = append(r.filterAllowed, allowed)
	}
	for i := range r.plan.attrs {
		r.plan.attrs[i].early = d.Attributes[i].Required
	}
	for i, idx := range r.filterAttrs {
		if r.filterOn[i] {
			for _, j := range idx {
				if j < len(r.plan.attrs) {
					r.plan.attrs[j].early = true
				}
			}
		}
	}
	for _, dv := range d.Derived {
		r.derivedOn = append(r.derivedOn, dv.When == "" || r.set.Bool(dv.When))
		r.derivedFrom = append(r.derivedFrom, d.attrIndex(dv.From))
		r.bands = append(r.bands, newBandTable(dv.Bands))
	}
	r.lists = make([][]string, len(d.Attributes))
	r.memo = make([]valueMemo, len(d.Attributes))
	r.selected = make([]bool, len(d.Attributes))
	for i, a := range d.Attributes {
		r.selected[i] = d.Select == "" || slices.Contains(r.set.List(d.Select), a.Name)
	}
	r.all = make([]Attr, len(d.Attributes)+len(d.Derived))
	for i, name := range d.AttributeNames() {
		r.all[i].Name = name
	}
	r.allShown = true
	for i := range d.Attributes {
		r.allShown = r.allShown && r.selected[i]
	}
}

func maxBits(m *MaxPrefix, v4 bool, def int) int {
	switch {
	case m == nil:
	case v4 && m.IPv4 != nil:
		return *m.IPv4
	case !v4 && m.IPv6 != nil:
		return *m.IPv6
	}
	return def
}

// build maps the decoded fields to r.entry and r.all: the indicator, its
// dates and the early attributes (required, or read by a filter that is
// on). It returns why the line is invalid, or "". rest maps the others.
func (r *Reader) build() string {
	e := &r.entry
	e.Warnings = e.Warnings[:0]
	e.FirstSeen, e.LastSeen = time.Time{}, time.Time{}
	r.warned = false
	pl := &r.plan
	m := &r.d.Indicator
	v, ok := r.field(pl.ind)
	if !ok {
		return fmt.Sprintf("no indicator: field %s is empty or missing", m.Field)
	}
	var plen []byte
	if pl.plen >= 0 {
		if plen, ok = r.field(pl.plen); !ok {
			return fmt.Sprintf("no prefix length: field %s is empty or missing", m.PrefixLengthField)
		}
	}
	p, why := parseIndicator(v, plen, pl.plen >= 0)
	if why != "" {
		return why
	}
	if bits, widest := p.Bits(), pl.widest(p); bits < widest {
		return fmt.Sprintf("%s is wider than /%d, the widest prefix this feed accepts (indicator.max_prefix)", p, widest)
	}
	e.Prefix = p
	if m.FirstSeen != nil {
		e.FirstSeen = r.seen(pl.first, m.FirstSeen, "first_seen", pl.firstQuiet)
	}
	if m.LastSeen != nil {
		e.LastSeen = r.seen(pl.last, m.LastSeen, "last_seen", pl.lastQuiet)
	}
	for i := range pl.attrs {
		if !pl.attrs[i].early {
			continue
		}
		if why := r.attribute(i, &pl.attrs[i], &r.all[i].Value); why != "" {
			return why
		}
	}
	return ""
}

// rest maps the attributes build left for after the filters: those of a
// line the filters drop are never parsed. None is required, so none can
// make the line invalid.
func (r *Reader) rest() {
	pl := &r.plan
	for i := range pl.attrs {
		if !pl.attrs[i].early {
			r.attribute(i, &pl.attrs[i], &r.all[i].Value)
		}
	}
}

func (pl *plan) widest(p netip.Prefix) int {
	if p.Addr().Is4() {
		return pl.max4
	}
	return pl.max6
}

func (r *Reader) field(ref int) ([]byte, bool) {
	if ref < 0 || !r.has[ref] || len(r.vals[ref]) == 0 {
		return nil, false
	}
	return r.vals[ref], true
}

func (r *Reader) warn(format string, args ...any) {
	r.entry.Warnings = append(r.entry.Warnings, fmt.Sprintf(format, args...))
	r.stats.Warnings++
}

// parseIndicator parses an address, a CIDR prefix, or an address and a
// separate prefix length. It refuses prefixes with host bits set.
func parseIndicator(v, plen []byte, hasLen bool) (netip.Prefix, string) {
	addrText, bitsText := v, []byte(nil)
	if i := bytes.IndexByte(v, '/'); i >= 0 {
		addrText, bitsText = v[:i], v[i+1:]
	}
	addr, ok := prediction.ParseIP(addrText)
	switch {
	case !ok && bitsText != nil:
		return netip.Prefix{}, fmt.Sprintf("%q is not an IP address or CIDR prefix", v)
	case !ok:
		return netip.Prefix{}, fmt.Sprintf("%q is not an IP address", v)
	case hasLen && bitsText != nil:
		return netip.Prefix{}, fmt.Sprintf("%q already has a prefix length and the definition names a prefix_length_field", v)
	case hasLen:
		bitsText = bytes.TrimPrefix(plen, []byte("/"))
	}
	bits := addr.BitLen()
	if bitsText != nil {
		n, ok := atoi(bitsText)
		if !ok {
			return netip.Prefix{}, fmt.Sprintf("prefix length %q of %s is not a number", bitsText, addrText)
		}
		bits = n
	}
	if bits > addr.BitLen() {
		return netip.Prefix{}, fmt.Sprintf("prefix length /%d is too long for %s", bits, addr)
	}
	p := netip.PrefixFrom(addr, bits)
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Sprintf("%s has host bits set: the network is %s", p, m)
	}
	return p, ""
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (r *Reader) seen(ref int, s *Seen, what string, quiet bool) time.Time {
	v, ok := r.field(ref)
	if !ok {
		return time.Time{}
	}
	t, why := r.date(ref, v, s.Layouts)
	if why != "" {
		if !quiet {
			r.warn("%s %s; dropped", what, why)
		}
		return time.Time{}
	}
	return t
}

// date parses v with the layouts (in UTC unless the layout has a zone)
// and applies the run's bounds. Without layouts it takes the ISO 8601
// forms Seclytics writes: 2006-01-02, with a T or a space and a time,
// optional fractions and Z or an offset.
func (r *Reader) date(ref int, v []byte, layouts []string) (time.Time, string) {
	if layouts == nil {
		// The ISO forms: Unix seconds straight from the text, bounds
		// checked as integers; no time.Time arithmetic per line. A field
		// that repeats the date of the line before (and a date mapped
		// twice) is not parsed again.
		m := &r.dates[ref]
		if m.ok && string(m.text) == string(v) {
			return time.Unix(m.unix, 0).UTC(), ""
		}
		m.ok = false
		n, ok := prediction.ParseDate(v)
		switch {
		case !ok:
			return time.Time{}, fmt.Sprintf("%q is not an ISO 8601 date (2006-01-02, optionally with a time)", v)
		case n < 0 || n > r.latest:
			return time.Time{}, fmt.Sprintf("%q is outside 1970-01-01 to a year after the run", v)
		}
		m.text, m.unix, m.ok = append(m.text[:0], v...), n, true
		return time.Unix(n, 0).UTC(), ""
	}
	t, ok := parseDate(v, layouts)
	if !ok {
		if layouts == nil {
			return time.Time{}, fmt.Sprintf("%q is not an ISO 8601 date (2006-01-02, optionally with a time)", v)
		}
		return time.Time{}, fmt.Sprintf("%q is not a date in the layouts %s", v, strings.Join(layouts, ", "))
	}
	t = t.UTC().Truncate(time.Second)
	if t.Year() < 1970 || (!r.p.Now.IsZero() && t.After(r.p.Now.Add(MaxFuture))) {
		return time.Time{}, fmt.Sprintf("%q is outside 1970-01-01 to a year after the run", v)
	}
	return t, ""
}

// valueMemo is the text an attribute was last mapped from, when the value
// mapped from it is still in place in Reader.all: values are 112 bytes (a
// time, a prefix, a list), and a repeated field then costs a comparison,
// not a copy.
type valueMemo struct {
	raw   []byte
	array bool
	ok    bool
}

// dateMemo is the last ISO date a field held that was kept, and its Unix
// seconds.
type dateMemo struct {
	text []byte
	unix int64
	ok   bool
}

// isoLayouts are layouts prediction.ParseDate reads without allocating,
// with the length and separator a value in that layout has.
var isoLayouts = map[string]struct {
	n   int
	sep byte
}{
	"2006-01-02":          {10, 0},
	"2006-01-02 15:04:05": {19, ' '},
	"2006-01-02T15:04:05": {19, 'T'},
}

func parseDate(v []byte, layouts []string) (time.Time, bool) {
	if layouts == nil {
		n, ok := prediction.ParseDate(v)
		return time.Unix(n, 0), ok
	}
	for _, l := range layouts {
		if iso, ok := isoLayouts[l]; ok {
			if len(v) == iso.n && (iso.sep == 0 || v[10] == iso.sep) {
				if n, ok := prediction.ParseDate(v); ok {
					return time.Unix(n, 0), true
				}
			}
			continue
		}
		if l == "unix" {
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				return time.Unix(n, 0), true
			}
			continue
		}
		if t, err := time.Parse(l, string(v)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// attribute maps one attribute into *out (left KindNone when absent or
// dropped); why is set when a required one fails. Values are large (a
// time, a prefix, a list): they are written in place, never returned. out
// is the attribute's own slot in r.all, which keeps its value from one
// line to the next (see valueMemo).
func (r *Reader) attribute(i int, ap *attrPlan, out *indicator.Value) string {
	a := ap.a
	if a.Type == TypeConstant {
		*out = ap.constant
		return ""
	}
	m := &r.memo[i]
	v, ok := r.field(ap.ref)
	if !ok {
		*out, m.ok = indicator.Value{}, false
		if a.Required {
			return fmt.Sprintf("%s (field %s) is empty or missing", a.Name, a.Field)
		}
		return ""
	}
	if m.ok && m.array == r.array[ap.ref] && string(m.raw) == string(v) {
		// *out still holds the value mapped from this same text on an
		// earlier line: nothing to parse or copy. A repeated netblock
		// must still hold this line's address.
		if a.Type != TypeCIDR || !a.ContainsIndicator || r.contains(out.Prefix) {
			return ""
		}
		m.ok = false
		return r.drop(a, fmt.Sprintf("%q does not contain the indicator %s", v, r.entry.Prefix), out)
	}
	*out = indicator.Value{}
	warnings, dirty := len(r.entry.Warnings), r.dirty
	why := r.typed(i, ap, v, out)
	m.ok = false
	if why == "" {
		// Keep the text of a value that took no warning, for the next
		// line that repeats the field: dumps hold runs of rows alike but
		// for the address.
		if len(r.entry.Warnings) == warnings && r.dirty == dirty {
			m.raw, m.array, m.ok = append(m.raw[:0], v...), r.array[ap.ref], true
		}
		return ""
	}
	return r.drop(a, why, out)
}

// drop clears *out for an attribute that failed: the line is invalid if
// the attribute is required (see attribute), else it gets a warning.
// Both messages name the field as well as the attribute: the field is
// what the person reading them finds in the feed's body.
func (r *Reader) drop(a *Attribute, why string, out *indicator.Value) string {
	*out = indicator.Value{}
	if a.Required {
		return fmt.Sprintf("%s (field %s): %s", a.Name, a.Field, why)
	}
	r.warn("%s (field %s): %s; attribute dropped", a.Name, a.Field, why)
	return ""
}

func (r *Reader) typed(i int, ap *attrPlan, v []byte, out *indicator.Value) string {
	a := ap.a
	switch a.Type {
	case TypeText:
		s := r.text(v)
		if a.Lower {
			s = strings.ToLower(s)
		}
		out.Kind, out.Text = indicator.KindText, s
	case TypeNumber:
		f, ok := parseNumber(v)
		switch {
		case !ok:
			return fmt.Sprintf("%q is not a number", v)
		case a.Min != nil && f < *a.Min, a.Max != nil && f > *a.Max:
			return fmt.Sprintf("%q is outside %s", v, bounds(a.Min, a.Max))
		}
		out.Kind, out.Number = indicator.KindNumber, f
	case TypeDate:
		t, why := r.date(ap.ref, v, a.Layouts)
		if why != "" {
			return why
		}
		out.Kind, out.Time = indicator.KindDate, t.UTC()
	case TypeList:
		if items := r.list(i, ap, v); len(items) > 0 {
			out.Kind, out.List = indicator.KindList, items
		}
	case TypeCIDR:
		return r.cidr(ap, v, out)
	}
	return ""
}

func (r *Reader) cidr(ap *attrPlan, v []byte, out *indicator.Value) string {
	i := bytes.IndexByte(v, '/')
	if i < 0 {
		return fmt.Sprintf("%q is not a CIDR prefix", v)
	}
	addr, ok := prediction.ParseIP(v[:i])
	bits, ok2 := atoi(v[i+1:])
	mapped := addr.Is4() && bytes.IndexByte(v[:i], ':') >= 0
	if mapped {
		bits -= 96
	}
	if !ok || !ok2 || bits < 0 || bits > addr.BitLen() {
		return fmt.Sprintf("%q is not a CIDR prefix", v)
	}
	p := netip.PrefixFrom(addr, bits).Masked()
	widest := ap.max6
	if p.Addr().Is4() {
		widest = ap.max4
	}
	switch {
	case ap.a.ContainsIndicator && !r.contains(p):
		return fmt.Sprintf("%q does not contain the indicator %s", v, r.entry.Prefix)
	case p.Bits() < widest:
		setting := "max_prefix"
		if a := ap.a.MaxPrefix; a != nil && a.Setting != "" {
			setting = a.Setting
		}
		return fmt.Sprintf("%q is wider than /%d (%s)", v, widest, setting)
	}
	out.Kind, out.Prefix = indicator.KindCIDR, p
	return ""
}

// contains reports whether the netblock p holds the line's indicator.
func (r *Reader) contains(p netip.Prefix) bool {
	return p.Contains(r.entry.Prefix.Addr()) && p.Bits() <= r.entry.Prefix.Bits()
}

// parseNumber is parseDecimal with a fast path for the usual small whole
// number (an importance of 85), which needs no strconv.
func parseNumber(b []byte) (float64, bool) {
	if len(b) > 0 && len(b) <= 9 {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return parseDecimal(b)
			}
			n = n*10 + int(c-'0')
		}
		return float64(n), true
	}
	return parseDecimal(b)
}

// parseDecimal accepts an optional minus sign and digits with at most one
// decimal point: no exponents, hex, infinities or NaN.
func parseDecimal(b []byte) (float64, bool) {
	d := b
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	dots, digits := 0, 0
	for _, c := range d {
		switch {
		case c == '.':
			dots++
		case c >= '0' && c <= '9':
			digits++
		default:
			return 0, false
		}
	}
	if dots > 1 || digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// list splits v on the attribute's separators, or, for a JSON array, on
// the item separator between its items only (an array's items are the
// list's items, commas and all), trims, cleans, lower-cases when asked and
// drops empty and repeated items, keeping the first occurrence's order. A
// ListSep byte in a field that was not an array is a control character
// like any other, removed with the text's cleaning.
func (r *Reader) list(i int, ap *attrPlan, v []byte) []string {
	a := ap.a
	arr := r.array[ap.ref]
	out := r.lists[i][:0]
	var seen map[string]struct{}
	for len(v) > 0 {
		end, next := len(v), len(v)
		switch {
		case arr:
			if j := bytes.IndexByte(v, ListSep); j >= 0 {
				end, next = j, j+1
			}
		case ap.singleSeps != "":
			// Single-byte separators (the usual case): one scan.
			for j, c := range v {
				if ap.isSep[c] {
					end, next = j, j+1
					break
				}
			}
		case ap.multiSeps:
			for j := 0; j < len(v); j++ {
				if ap.isSep[v[j]] {
					end, next = j, j+1
					break
				}
				if k := sepAt(v[j:], a.Separators); k > 0 {
					end, next = j, j+k
					break
				}
			}
		}
		item := bytes.TrimSpace(v[:end])
		v = v[next:]
		if len(item) == 0 {
			continue
		}
		dirty := r.dirty
		s := r.text(item)
		if r.dirty != dirty {
			// Cleaning may leave blanks at an end, or nothing.
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
		}
		if a.Lower {
			s = strings.ToLower(s)
		}
		if len(out) < 16 {
			if slices.Contains(out, s) {
				continue
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*len(out))
				for _, o := range out {
					seen[o] = struct{}{}
				}
			}
			if _, dup := seen[s]; dup {
				continue
			}
			seen[s] = struct{}{}
		}
		out = append(out, s)
	}
	r.lists[i] = out
	return out
}

func sepAt(b []byte, seps []string) int {
	for _, s := range seps {
		if bytes.HasPrefix(b, []byte(s)) {
			return len(s)
		}
	}
	return 0
}

// text returns v as every store keeps it alike: invalid UTF-8 replaced
// with U+FFFD, C0 control characters but tab removed (with one warning
// per line).
func (r *Reader) text(v []byte) string {
	// Printable ASCII, the usual case, is settled in one pass.
	i := 0
	for i < len(v) && v[i] >= ' ' && v[i] < 0x7f {
		i++
	}
	clean := i == len(v) || utf8.Valid(v[i:])
	for _, c := range v[i:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return r.intern(v)
	}
	s := strings.ToValidUTF8(string(v), "\uFFFD")
	s = strings.Map(func(c rune) rune {
		if c < ' ' && c != '\t' || c == 0x7f {
			return -1
		}
		return c
	}, s)
	r.dirty++
	if !r.warned {
		r.warned = true
		r.warn("text held invalid UTF-8 or control characters: invalid bytes replaced with U+FFFD, control characters removed")
	}
	return s
}

// maxInterned bounds the strings a Reader shares between lines.
const maxInterned = 4096

// intern returns v as a string, shared with earlier lines that had the
// same text: categories, detectors and other repeated values cost one
// allocation per Reader, not one per line. A small direct-mapped cache in
// front of the map answers the usual case, a value seen a line or two
// before, with one comparison.
func (r *Reader) intern(v []byte) string {
	h := internSlot(v)
	if s := r.recent[h]; s == string(v) {
		return s
	}
	s, ok := r.strs[string(v)]
	if !ok {
		s = string(v)
		if r.strs == nil {
			r.strs = make(map[string]string)
		}
		if len(r.strs) < maxInterned {
			r.strs[s] = s
		}
	}
	r.recent[h] = s
	return s
}

// internSlot picks v's slot in Reader.recent from its length and a few of
// its bytes: cheap, and different for the values a feed repeats.
func internSlot(v []byte) uint8 {
	n := len(v)
	if n == 0 {
		return 0
	}
	return uint8(n*31) ^ v[0] ^ v[n-1]*7 ^ v[n/2]*13
}
