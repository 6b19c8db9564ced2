package retrohunt

import (
	"net/netip"
	"testing"
	"time"
)

// The cache stays within two generations however many addresses pass, and
// an address asked for often survives generations of one-off addresses.
func TestCacheIsBoundedAndKeepsFrequentAddresses(t *testing.T) {
	c := newCache(100)
	hot := netip.MustParseAddr("198.51.100.1")
	c.put(hot, Info{Verdict: "listed"})
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		if _, ok := c.get(a); ok {
			t.Fatalf("%s cached before it was put", a)
		}
		c.put(a, Info{Verdict: "unknown"})
		if i%50 == 0 {
			if v, ok := c.get(hot); !ok || v.Verdict != "listed" {
				t.Fatalf("the frequent address fell out after %d others", i)
			}
		}
		if n := len(c.cur) + len(c.prev); n > 200 {
			t.Fatalf("%d entries cached, bound 200", n)
		}
	}
}

func TestDaysAfterPrediction(t *testing.T) {
	pred := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		pred time.Time
		days int
		ok   bool
	}{
		{pred.Add(36 * time.Hour), pred, 1, true},
		{pred.Add(-time.Hour), pred, -1, true}, // seen before it was predicted
		{pred, pred, 0, true},
		{time.Time{}, pred, 0, false}, // the line has no time
		{pred, time.Time{}, 0, false}, // no Predicted At stored
	} {
		h := Hit{Time: tc.at, Info: &Info{PredictedAt: tc.pred}}
		if d, ok := h.DaysAfterPrediction(); d != tc.days || ok != tc.ok {
			t.Errorf("%v after %v: %d %v, want %d %v", tc.at, tc.pred, d, ok, tc.days, tc.ok)
		}
	}
}
