package merge

import (
	"slices"
)

// MaxListValues caps each list attribute of one indicator. A hostile dump
// can repeat an address with ever new identifiers; beyond the cap the
// newest values are kept (see Fold and Apply), so an indicator's row stays
// bounded and every merge step linear.
const MaxListValues = 1000

// compactAt is the length at which Fold compacts a list it gathers:
// several times the cap, so that compaction is amortized over many rows
// and memory stays proportional to the cap.
const compactAt = 4 * MaxListValues

// keepNewest de-duplicates l, a list in arrival order (oldest first),
// keeping the last occurrence of each value and at most max values, the
// newest. The survivors stay in arrival order. It reports whether values
// other than duplicates were dropped.
func keepNewest(l []string, max int) ([]string, bool) {
	seen := make(map[string]struct{}, min(len(l), max))
	w := len(l) // survivors are written backwards into l[w:]
	cut := false
	for i := len(l) - 1; i >= 0; i-- {
		v := l[i]
		if _, dup := seen[v]; dup {
			continue
		}
		if len(seen) == max {
			cut = true
			break
		}
		seen[v] = struct{}{}
		w--
		l[w] = v
	}
	n := copy(l, l[w:])
	clear(l[n:])
	return l[:n], cut
}

// sortList sorts and de-duplicates l in place.
func sortList(l []string) []string {
	slices.Sort(l)
	return slices.Compact(l)
}

// Finish ends the fold of acc: each list is de-duplicated, cut to its
// MaxListValues newest values, and sorted. It reports whether a list lost
// values to the cap.
func Finish(acc *Record) bool {
	cut := false
	for _, s := range listSlots {
		l := acc.List(s)
		if len(*l) > MaxListValues {
			var c bool
			*l, c = keepNewest(*l, MaxListValues)
			cut = cut || c
		}
		*l = sortList(*l)
	}
	return cut
}

var listSlots = [...]Slot{DetectedBy, DetectedIdentifiers, DetectedCategories}

// mergeSorted merges the sorted, duplicate-free list add into the sorted,
// duplicate-free *dst in one linear pass and returns how many values were
// new.
func mergeSorted(dst *[]string, add []string) int {
	old := *dst
	n := 0
	for _, v := range add {
		if _, found := slices.BinarySearch(old, v); !found {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	out := make([]string, 0, len(old)+n)
	i, j := 0, 0
	for i < len(old) && j < len(add) {
		switch {
		case old[i] < add[j]:
			out = append(out, old[i])
			i++
		case old[i] > add[j]:
			out = append(out, add[j])
			j++
		default:
			out = append(out, old[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, old[i:]...)
	out = append(out, add[j:]...)
	*dst = out
	return n
}

// capStored cuts a stored list that a merge grew past MaxListValues: the
// values of the newer record in are kept first, then as many of the older
// stored values as fit (in sorted order: the store does not know their
// age). in is sorted and duplicate-free. It reports whether it cut.
func capStored(dst *[]string, in []string) bool {
	l := *dst
	if len(l) <= MaxListValues {
		return false
	}
	if len(in) >= MaxListValues {
		*dst = slices.Clone(in[len(in)-MaxListValues:])
		return true
	}
	room := MaxListValues - len(in)
	out := make([]string, 0, MaxListValues)
	for _, v := range l {
		if _, newer := slices.BinarySearch(in, v); newer || room > 0 {
			if !newer {
				room--
			}
			out = append(out, v)
		}
	}
	*dst = out
	return true
}
