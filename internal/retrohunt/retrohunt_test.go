package retrohunt

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"forewarn/internal/logscan"
	"forewarn/internal/store"
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
		if n := c.len(); n > 200 {
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

// A log of more distinct addresses than the cache holds runs in bounded
// memory: the cache keeps at most two generations, whatever the log's
// size, and every address is still counted. The store is a real, empty
// SQLite store, so every address is unknown.
func TestHuntMemoryIsBoundedByTheCache(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res, err := NewStoreResolver(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	// A small cache, so that a few thousand lines hold more than twice
	// as many distinct addresses as it does: the bound, not its size, is
	// the property.
	const size, lines = 1000, 5000
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		for i := range lines {
			fmt.Fprintf(w, "seen 45.%d.%d.%d today\n", i>>16, (i>>8)&255, i&255)
		}
		w.Flush()
		pw.Close()
	}()
	sc, err := logscan.New(pr, logscan.Options{Format: logscan.FormatText})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	h := New(res)
	h.c = newCache(size)
	if err := h.Hunt(ctx, sc, nil); err != nil {
		t.Fatal(err)
	}
	s := h.Summary()
	if s.Lines != lines || s.Addresses != lines || s.Unknown != lines || s.Hits != 0 || s.Resolved != lines {
		t.Fatalf("summary: %+v", s)
	}
	if n := h.c.len(); n > 2*size {
		t.Fatalf("%d addresses cached, bound %d", n, 2*size)
	}
}
