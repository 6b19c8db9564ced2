package indicator

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/jsonenc"
)

// Kind says which field of a Value holds the data. A feed declares each of
// its attributes with one of these kinds; the store's read path fills the
// matching field, and only the renderers (exports, STIX, API JSON, UI,
// CLI) turn it into text.
type Kind uint8

// Kinds. The zero Kind is no value: an attribute that is absent, which
// readers must treat as missing, never as a zero.
const (
	KindNone   Kind = iota
	KindText        // free text, or a constant a feed sets
	KindNumber      // a score such as Importance
	KindDate        // a point in time, UTC, whole seconds
	KindCIDR        // a netblock
	KindList        // several texts, sorted and free of duplicates
)

// String names the kind as feed definitions and error messages spell it.
func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindNumber:
		return "number"
	case KindDate:
		return "date"
	case KindCIDR:
		return "CIDR"
	case KindList:
		return "list"
	}
	return "none"
}

// Value is an attribute's typed value: exactly one field, the one Kind
// names, is meaningful.
type Value struct {
	Kind   Kind
	Text   string
	Number float64
	Time   time.Time
	Prefix netip.Prefix
	List   []string
}

// TextValue, NumberValue, DateValue, CIDRValue and ListValue build a
// Value of their kind.
func TextValue(s string) Value       { return Value{Kind: KindText, Text: s} }
func NumberValue(f float64) Value    { return Value{Kind: KindNumber, Number: f} }
func DateValue(t time.Time) Value    { return Value{Kind: KindDate, Time: t.UTC()} }
func CIDRValue(p netip.Prefix) Value { return Value{Kind: KindCIDR, Prefix: p} }
func ListValue(items []string) Value { return Value{Kind: KindList, List: items} }

// AsNumber returns the number a KindNumber value holds; ok is false for
// any other kind, absence included.
func (v Value) AsNumber() (f float64, ok bool) { return v.Number, v.Kind == KindNumber }

// AsTime returns the time a KindDate value holds; ok is false otherwise.
func (v Value) AsTime() (t time.Time, ok bool) { return v.Time, v.Kind == KindDate }

// AsPrefix returns the netblock a KindCIDR value holds; ok is false
// otherwise.
func (v Value) AsPrefix() (p netip.Prefix, ok bool) { return v.Prefix, v.Kind == KindCIDR }

// Items returns the texts of the value: a list's items, the one text of a
// text value, nothing for other kinds. Category and label filters match on
// them.
func (v Value) Items() []string {
	switch v.Kind {
	case KindList:
		return v.List
	case KindText:
		return []string{v.Text}
	}
	return nil
}

// Texts calls fn with each value as forewarn writes it for people and
// exports: a list once per item, in order; a date in TimeFormat; a number
// as it was given (85.5, 70); a netblock in CIDR notation. It is the one
// place that turns a typed value into text, for the renderers.
func (v Value) Texts(fn func(string)) {
	if v.Kind == KindList {
		for _, s := range v.List {
			fn(s)
		}
		return
	}
	if v.Kind != KindNone {
		fn(v.String())
	}
}

// AppendText appends v as String writes it, without allocating for a
// number, a date or a netblock: the exports' hand-written encoders write
// into one buffer.
func (v Value) AppendText(dst []byte) []byte {
	switch v.Kind {
	case KindText:
		return append(dst, v.Text...)
	case KindNumber:
		return strconv.AppendFloat(dst, v.Number, 'f', -1, 64)
	case KindDate:
		return jsonenc.AppendTime(dst, v.Time.UTC(), TimeFormat)
	case KindCIDR:
		if !v.Prefix.IsValid() {
			return append(dst, v.Prefix.String()...) // AppendTo writes nothing
		}
		return v.Prefix.AppendTo(dst)
	case KindList:
		for i, s := range v.List {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, s...)
		}
	}
	return dst
}

// String renders a single value as Texts does; a list's items are joined
// with ", ". A missing value is "".
func (v Value) String() string {
	switch v.Kind {
	case KindText:
		return v.Text
	case KindNumber:
		return strconv.FormatFloat(v.Number, 'f', -1, 64)
	case KindDate:
		return v.Time.UTC().Format(TimeFormat)
	case KindCIDR:
		return v.Prefix.String()
	case KindList:
		return strings.Join(v.List, ", ")
	}
	return ""
}
