package feeddef

import (
	"math"
	"slices"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// attrIndex is the index of the attribute called name in r.all
// (mapped, then derived), or -1.
func (d *Definition) attrIndex(name string) int {
	for i, a := range d.Attributes {
		if a.Name == name {
			return i
		}
	}
	for i, dv := range d.Derived {
		if dv.Name == name {
			return len(d.Attributes) + i
		}
	}
	return -1
}

// filter returns the index of the first filter that drops the entry, or
// -1 to keep it.
func (r *Reader) filter() int {
	for i := range r.d.Filters {
		f := &r.d.Filters[i]
		if !r.filterOn[i] {
			continue
		}
		if !r.pass(i, f) {
			return i
		}
	}
	return -1
}

func (r *Reader) pass(i int, f *Filter) bool {
	idx := r.filterAttrs[i]
	switch f.Type {
	case FilterAtLeast:
		return AtLeast(r.all[idx[0]].Value, r.filterMin[i])
	case FilterAnyOf:
		return AnyOf(r.all[idx[0]].Value, r.filterAllowed[i])
	case FilterDateWindow:
		r.window = r.window[:0]
		for _, j := range idx {
			r.window = append(r.window, r.all[j].Value)
		}
		return InWindow(r.window, r.p.Since, r.p.Until)
	}
	return true
}

// AtLeast is the at_least filter: v is a number of at least min. A
// missing number passes only a min of 0 (or less).
func AtLeast(v indicator.Value, min float64) bool {
	f, ok := v.AsNumber()
	if !ok {
		return min <= 0
	}
	return f >= min
}

// AnyOf is the any_of filter: one of v's items is in allowed, compared
// case-insensitively after trimming. An empty allowed list lets every
// value pass.
func AnyOf(v indicator.Value, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, it := range v.Items() {
		it = strings.TrimSpace(it)
		if slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), it) }) {
			return true
		}
	}
	return false
}

// InWindow is the date_window filter: the first date present among vals
// (a fallback chain, such as Last Seen At, else Detected At, else
// Predicted At) lies in [since, until); a zero bound is open. An entry
// with none of the dates fails.
func InWindow(vals []indicator.Value, since, until time.Time) bool {
	for _, v := range vals {
		t, ok := v.AsTime()
		if !ok {
			continue
		}
		return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
	}
	return false
}

// BandOf is a derived attribute's value for the number v: the value of
// the first band whose at_least v reaches (a band without at_least takes
// any number); "" when no band does.
func BandOf(bands []Band, v float64) string {
	for _, b := range bands {
		if b.AtLeast == nil || v >= *b.AtLeast {
			return b.Value
		}
	}
	return ""
}

// bandTable is BandOf for one derived attribute, with the bands of the
// whole numbers 0 to 255 (an importance of 85) looked up in a table.
type bandTable struct {
	bands []Band
	small [256]string
}

func newBandTable(bands []Band) bandTable {
	t := bandTable{bands: bands}
	for k := range t.small {
		t.small[k] = BandOf(bands, float64(k))
	}
	return t
}

func (t *bandTable) of(f float64) string {
	if f >= 0 && f < float64(len(t.small)) && f == math.Trunc(f) {
		return t.small[int(f)]
	}
	return BandOf(t.bands, f)
}

// finish computes the derived attributes and lays out the entry's
// attributes: mapped ones present and selected, then derived ones.
func (r *Reader) finish() {
	n := len(r.d.Attributes)
	for i := range r.d.Derived {
		v := &r.all[n+i].Value
		*v = indicator.Value{}
		if !r.derivedOn[i] {
			continue
		}
		if f, ok := r.all[r.derivedFrom[i]].Value.AsNumber(); ok {
			if s := r.bands[i].of(f); s != "" {
				v.Kind, v.Text = indicator.KindText, s
			}
		}
	}
	if r.allShown {
		// Every mapped attribute present, and the derived ones all or
		// none: the entry's attributes are a prefix of r.all.
		present := 0
		for i := range r.all {
			if r.all[i].Value.Kind != indicator.KindNone {
				present++
			} else if i < n {
				break
			}
		}
		if present == n || present == len(r.all) {
			r.entry.Attrs = r.all[:present]
			return
		}
	}
	// Values are large (a time, a prefix, a list): index them rather
	// than copy each one through a range variable.
	attrs := r.shown[:0]
	for i := range r.all {
		a := &r.all[i]
		if a.Value.Kind == indicator.KindNone || (i < n && !r.selected[i]) {
			continue
		}
		attrs = append(attrs, *a)
	}
	r.shown = attrs
	r.entry.Attrs = attrs
}
