package filter

import (
	"testing"

	"forewarn/internal/prediction"
)

func row(imp float64, hasImp bool, cats []string, lsa, det, pred int64) *prediction.Row {
	r := &prediction.Row{Importance: imp, HasImportance: hasImp, LastSeenAt: lsa, DetectedAt: det, PredictedAt: pred}
	for _, c := range cats {
		r.DetectedCategories = append(r.DetectedCategories, []byte(c))
	}
	return r
}

const none = prediction.NoTime

func TestThreshold(t *testing.T) {
	for _, tc := range []struct {
		threshold, imp float64
		has            bool
		want           Reason
	}{
		{70, 70, true, Keep}, {70, 69.99, true, BelowThreshold}, {70, 100, true, Keep},
		{0, 0, true, Keep}, {0, 0, false, Keep}, {100, 100, true, Keep}, {100, 99.5, true, BelowThreshold},
		{70, 0, false, BelowThreshold},
	} {
		f := New(tc.threshold, nil, false, 0, 0)
		if got := f.Check(row(tc.imp, tc.has, nil, none, none, none)); got != tc.want {
			t.Errorf("threshold %v importance %v (has %v): %v, want %v", tc.threshold, tc.imp, tc.has, got, tc.want)
		}
	}
}

func TestCategories(t *testing.T) {
	f := New(0, []string{" Malicious", "BOTNET"}, false, 0, 0)
	for _, tc := range []struct {
		cats []string
		want Reason
	}{
		{[]string{"malicious"}, Keep}, {[]string{"spam", "botnet"}, Keep}, {[]string{"spam"}, CategoryNotListed}, {nil, CategoryNotListed},
	} {
		if got := f.Check(row(50, true, tc.cats, none, none, none)); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.cats, got, tc.want)
		}
	}
	if got := New(0, nil, false, 0, 0).Check(row(0, true, nil, none, none, none)); got != Keep {
		t.Errorf("empty whitelist dropped a row: %v", got)
	}
}

func TestDateWindowUsesLastSeenThenDetectedThenPredicted(t *testing.T) {
	f := New(0, nil, true, 100, 200)
	for _, tc := range []struct {
		name           string
		lsa, det, pred int64
		want           Reason
	}{
		{"last seen inside", 150, 10, 10, Keep},
		{"last seen at since is inside", 100, none, none, Keep},
		{"last seen at until is outside", 200, none, none, OutsideWindow},
		{"last seen outside wins over detected inside", 50, 150, 150, OutsideWindow},
		{"detected when no last seen", none, 199, 10, Keep},
		{"predicted when no other", none, none, 99, OutsideWindow},
		{"no date at all", none, none, none, OutsideWindow},
	} {
		if got := f.Check(row(0, true, nil, tc.lsa, tc.det, tc.pred)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	open := New(0, nil, true, NoLowerBound, 200)
	if open.Check(row(0, true, nil, -1e12, none, none)) != Keep {
		t.Error("no lower bound should keep old rows")
	}
	if New(0, nil, false, 100, 200).Check(row(0, true, nil, none, none, none)) != Keep {
		t.Error("filter off should keep rows without dates")
	}
}
