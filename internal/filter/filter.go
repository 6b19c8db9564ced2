package filter

import (
	"bytes"
	"math"
	"strings"

	"forewarn/internal/prediction"
)

// Reason is why a row was dropped, or Keep.
type Reason int

// Reasons, in the order they are checked.
const (
	Keep Reason = iota
	BelowThreshold
	CategoryNotListed
	OutsideWindow
)

func (r Reason) String() string {
	return [...]string{"kept", "below threshold", "category not listed", "outside the date window"}[r]
}

// Unbounded is a window edge that lets every date through.
const (
	NoLowerBound = math.MinInt64
	NoUpperBound = math.MaxInt64
)

// Filter holds one run's filters.
type Filter struct {
	threshold  float64
	categories [][]byte
	byDate     bool
	since      int64
	until      int64
}

// New builds a filter. categories are matched case-insensitively; an empty
// list lets every row pass. With byDate, a row is kept only if its date (see
// [prediction.Row.Date]) lies in [since, until).
func New(threshold float64, categories []string, byDate bool, since, until int64) *Filter {
	f := &Filter{threshold: threshold, byDate: byDate, since: since, until: until}
	for _, c := range categories {
		f.categories = append(f.categories, []byte(strings.ToLower(strings.TrimSpace(c))))
	}
	return f
}

// Check returns Keep or the first reason the row fails. A row without an
// importance passes only a threshold of 0.
func (f *Filter) Check(r *prediction.Row) Reason {
	if f.threshold > 0 && (!r.HasImportance || r.Importance < f.threshold) {
		return BelowThreshold
	}
	if len(f.categories) > 0 && !f.listed(r.DetectedCategories) {
		return CategoryNotListed
	}
	if f.byDate {
		d := r.Date()
		if d == prediction.NoTime || d < f.since || d >= f.until {
			return OutsideWindow
		}
	}
	return Keep
}

// listed reports whether any of the row's (already lower-cased) categories
// is whitelisted.
func (f *Filter) listed(cats [][]byte) bool {
	for _, c := range cats {
		for _, w := range f.categories {
			if bytes.Equal(c, w) {
				return true
			}
		}
	}
	return false
}
