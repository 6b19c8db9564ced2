package output_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/allowlist"
	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/output"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// row is an Active indicator at addr with importance imp (none if < 0),
// expiring at exp (never if zero).
func row(addr string, imp float64, exp time.Time) *merge.Stored {
	st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(addr)}, Exists: true, Status: indicator.StatusActive,
		CreatedAt: now.Add(-48 * time.Hour).Unix(), UpdatedAt: now.Add(-24 * time.Hour).Unix()}
	if imp >= 0 {
		st.Has = st.Has.With(merge.Importance)
		st.Importance = imp
	}
	if !exp.IsZero() {
		st.ExpiresAt = exp.Unix()
	}
	return st
}

func write(t testing.TB, st *store.Store, rows []*merge.Stored) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for len(rows) > 0 {
		n := min(len(rows), 5000)
		if err := tx.Write(ctx, rows[:n]); err != nil {
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func render(t *testing.T, st *store.Store, s output.Spec, file string) (string, output.Result) {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res, err := output.Render(context.Background(), &b, st, "p", s, file, now)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), res
}

// TestBudgetKeepsTheBestStably: a budget keeps the most important Active
// indicators, written in address order, the same from one render to the
// next when ranks tie (ties by address, the higher first), skipping those
// whose expiry passed and those the allow-list covers; its cut-off is the
// last kept importance.
func TestBudgetKeepsTheBestStably(t *testing.T) {
	for name, held := range map[string]int{"held in memory": 20000, "read by key": -1} {
		t.Run(name, func(t *testing.T) {
			defer output.SetHeldBudget(held)()
			testBudgetKeepsTheBestStably(t)
		})
	}
}

func testBudgetKeepsTheBestStably(t *testing.T) {
	st := testutil.Store(t)
	write(t, st, []*merge.Stored{
		row("203.0.113.1", 50, time.Time{}),
		row("198.51.100.1", 90, time.Time{}),
		row("198.51.100.2", 50, time.Time{}),
		row("198.51.100.3", 95, now.Add(-time.Hour)), // its expiry passed: not listed
		row("198.51.100.4", 50, now.Add(time.Hour)),
		row("2001:db8::1", 70, time.Time{}),
		row("192.0.2.9", -1, time.Time{}),
	})
	spec := output.Spec{Format: export.EDL, Max: 3}
	for range 3 {
		body, res := render(t, st, spec, "")
		// 90, 70, then the highest address of the three at 50.
		if diff := cmp.Diff("198.51.100.1\n203.0.113.1\n2001:db8::1\n", body); diff != "" || res.CutOff != "50" || res.Entries != 3 {
			t.Fatalf("budget of 3 (-want +got), cut-off %q, entries %d:\n%s", res.CutOff, res.Entries, diff)
		}
	}
	if _, _, err := st.AddAllowlistEntry(context.Background(), allowlist.Entry{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Comment: "partner"}); err != nil {
		t.Fatal(err)
	}
	body, res := render(t, st, spec, "")
	if body != "198.51.100.1\n198.51.100.4\n2001:db8::1\n" || res.CutOff != "50" {
		t.Errorf("after allow-listing 203.0.113.0/24: %q, cut-off %q", body, res.CutOff)
	}
	body, res = render(t, st, output.Spec{Format: export.EDL, Max: 100}, "")
	if strings.Count(body, "\n") != 5 || res.CutOff != "" {
		t.Errorf("a budget larger than the store: %q, cut-off %q; want every listable one and no cut-off", body, res.CutOff)
	}
	body, _ = render(t, st, output.Spec{Format: export.CrowdSec, Max: 2, Rank: store.RankRecency}, "")
	var ds []map[string]string
	if err := json.Unmarshal([]byte(body), &ds); err != nil || len(ds) != 2 {
		t.Errorf("crowdsec by recency: %v %q", err, body)
	}
}

// TestMISPProfileDatesRemovalsBeyondItsBudget: a budgeted MISP feed reads
// the whole store to date its event, so an indicator that leaves (here:
// expires) moves the event's timestamp although it is not in the budget
// any more.
func TestMISPProfileDatesRemovalsBeyondItsBudget(t *testing.T) {
	st := testutil.Store(t)
	write(t, st, []*merge.Stored{row("198.51.100.1", 90, now.Add(-time.Hour)), row("198.51.100.2", 50, time.Time{})})
	spec := output.Spec{Format: export.MISPFeed, Max: 1}
	manifest, _ := render(t, st, spec, export.MISPManifest)
	var m map[string]struct{ Timestamp int64 }
	if err := json.Unmarshal([]byte(manifest), &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest: %v %s", err, manifest)
	}
	for _, e := range m {
		if e.Timestamp != now.Add(-time.Hour).Unix() {
			t.Errorf("the event's timestamp %d is not the expiry of the indicator that left (%d)", e.Timestamp, now.Add(-time.Hour).Unix())
		}
	}
}

// TestRenderNumbers measures what issue 19 sets numbers for, at the size
// FOREWARN_OUTPUT_BENCH gives (e.g. 1000000): rendering a profile of
// every indicator (an edl of N entries), and a budget of 10,000 from the
// same store. It reports times and the heap; `scripts/bench`-style
// numbers for docs/performance.md.
func TestRenderNumbers(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FOREWARN_OUTPUT_BENCH"))
	if n == 0 {
		t.Skip("set FOREWARN_OUTPUT_BENCH=N to measure rendering at N indicators")
	}
	st := testutil.Store(t)
	rows := make([]*merge.Stored, 0, 50000)
	for i := range n {
		a := netip.AddrFrom4([4]byte{byte(1 + i>>24), byte(i >> 16), byte(i >> 8), byte(i)})
		rows = append(rows, row(a.String(), float64((i*7919)%10000)/100, time.Time{}))
		if len(rows) == cap(rows) || i == n-1 {
			write(t, st, rows)
			rows = rows[:0]
		}
	}
	runtime.GC()
	for _, tc := range []struct {
		name string
		spec output.Spec
	}{
		{"all", output.Spec{Format: export.EDL}},
		{"budget-10k", output.Spec{Format: export.EDL, Max: 10000}},
		{"budget-100k", output.Spec{Format: export.EDL, Max: 100000}},
		{"crowdsec-10k", output.Spec{Format: export.CrowdSec, Max: 10000}},
	} {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		// Reset the peak RSS (VmHWM), so that it is the render's alone.
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		runtime.ReadMemStats(&ms0)
		var cw countWriter
		start := time.Now()
		res, err := output.Render(context.Background(), &cw, st, "p", tc.spec, "", now)
		took := time.Since(start)
		runtime.ReadMemStats(&ms1)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s of %d: %d entries, %d bytes in %s; peak RSS %s, heap in use %d MiB, allocated %d MiB",
			tc.name, n, res.Entries, cw, took.Round(time.Millisecond), peakRSS(), ms1.HeapInuse>>20, (ms1.TotalAlloc-ms0.TotalAlloc)>>20)
		fmt.Fprintf(os.Stderr, "BENCH %s n=%d took=%s\n", tc.name, n, took)
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// peakRSS is VmHWM from /proc/self/status ("?" elsewhere).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// TestBudgetOfEveryActiveIsOnePass: a budget no smaller than the Active
// set is read in one pass over the store instead of ranked (the path of
// a 1M-entry profile of a 1M store); it writes what the ranked read
// writes, in every format that reads indicators, with the same cut-off:
// the lowest rank kept when the budget is exactly full, none otherwise;
// an Active indicator whose expiry passed is left out of blocklists and
// of the count that fills the budget.
func TestBudgetOfEveryActiveIsOnePass(t *testing.T) {
	st := testutil.Store(t)
	rows := []*merge.Stored{
		row("203.0.113.1", 50, time.Time{}),
		row("198.51.100.1", 90, time.Time{}),
		row("198.51.100.2", 50, time.Time{}),
		row("198.51.100.4", 50, now.Add(time.Hour)),
		row("2001:db8::1", 70, time.Time{}),
		row("192.0.2.9", -1, time.Time{}),
	}
	write(t, st, rows)
	n := len(rows)
	updated := indicator.FormatTime(now.Add(-24 * time.Hour).Unix())
	check := func(name string, blocklistShort bool) {
		t.Helper()
		// crowdsec and suricata-iprep read briefs either way: their bytes are
		// compared with whole indicators' in export's TestBudgetReadLeanIsTheSame.
		for _, f := range []export.Format{export.CSV, export.JSONL, export.STIX, export.ZeekIntel, export.ECS, export.CrowdSec, export.SuricataIPRep} {
			for rank, lowest := range map[string]string{store.RankImportance: "none", store.RankConfidence: "80", store.RankRecency: updated} {
				for _, max := range []int{n - 1, n, n + 10} {
					spec := output.Spec{Format: f, Max: max, Rank: rank}
					restore := output.SetHeldBudget(20000) // ranked, held in memory
					ranked, rres := render(t, st, spec, "")
					restore()
					restore = output.SetHeldBudget(-1) // one pass when the budget covers the Active set
					onePass, res := render(t, st, spec, "")
					restore()
					if diff := cmp.Diff(ranked, onePass); diff != "" || res != rres {
						t.Errorf("%s: %s by %s, max %d: one pass %+v, ranked %+v (-ranked +one pass):\n%s", name, f, rank, max, res, rres, diff)
					}
					want := lowest
					if blocklistShort && f.Blocklist() {
						want = "" // the budget is not full
						if strings.Contains(onePass, "198.51.100.2") {
							t.Errorf("%s: %s by %s, max %d: lists 198.51.100.2, whose expiry passed:\n%s", name, f, rank, max, onePass)
						}
					}
					if max == n && res.CutOff != want {
						t.Errorf("%s: %s by %s, max %d: cut-off %q, want %q", name, f, rank, max, res.CutOff, want)
					}
				}
			}
		}
	}
	check("every Active listable", false)
	write(t, st, []*merge.Stored{row("198.51.100.2", 50, now.Add(-time.Hour))}) // its expiry passed
	check("one expired, not yet swept", true)
}
