package store

import (
	"context"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// writePredictions stores Seclytics indicators with a Predicted At (zero:
// none) and a predicted category.
func writePredictions(t *testing.T, s *Store, preds map[string]struct {
	cat string
	at  time.Time
}) {
	t.Helper()
	var rows []*merge.Stored
	for addr, p := range preds {
		st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(addr), LastSeenAt: listT0.Unix()}, Status: indicator.StatusActive,
			CreatedAt: listT0.Unix(), UpdatedAt: listT0.Unix(), ExpiresAt: listT0.Add(time.Hour * 24 * 365).Unix(), Hash: 7}
		st.Has = st.Has.With(merge.LastSeenAt)
		if !p.at.IsZero() {
			st.PredictedAt = p.at.Unix()
			st.Has = st.Has.With(merge.PredictedAt)
		}
		if p.cat != "" {
			st.PredictedCategory = p.cat
			st.Has = st.Has.With(merge.PredictedCategory)
		}
		rows = append(rows, st)
	}
	commitRows(t, s, rows)
}

// firstSeen is a list whose entries carry the feed's own First Seen.
func firstSeen(seen map[string]time.Time) *entries {
	e := &entries{}
	for a, at := range seen {
		ad := netip.MustParseAddr(a)
		e.list = append(e.list, ListEntry{Prefix: netip.PrefixFrom(ad, ad.BitLen()), FirstSeen: at})
	}
	return e
}

func days(n int64) *int64 { return &n }

// The lead-time report on a constructed store: twelve predictions, three
// feeds (two give their own First Seen, one does not, so forewarn's first
// observation stands in), two confirmed before they were predicted, two
// never. Every figure below is worked out by hand from the table in the
// comments, not by the code under test.
func TestLeadTimesByHand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	day := 24 * time.Hour
	p100, p300, p400 := listT0.Add(-100*day), listT0.Add(-300*day), listT0.Add(-400*day)
	type pred = struct {
		cat string
		at  time.Time
	}
	writePredictions(t, s, map[string]pred{
		"192.0.2.1":    {"botnet", p100},  // feodo +10
		"192.0.2.2":    {"botnet", p100},  // feodo +40, spamhaus +100: earliest 40
		"192.0.2.3":    {"botnet", p100},  // feodo -5: before
		"192.0.2.4":    {"botnet", p100},  // never
		"192.0.2.5":    {"spam", p100},    // spamhaus +100
		"192.0.2.6":    {"spam", p400},    // spamhaus +400: beyond a year
		"192.0.2.7":    {"spam", p100},    // blde an hour before: day -1, before
		"192.0.2.8":    {"scanner", p300}, // blde +200
		"192.0.2.9":    {"scanner", p300}, // blde +30 days 23 h (day 30), feodo +60: earliest 30
		"192.0.2.10":   {"scanner", p300}, // never
		"2001:db8::11": {"", p100},        // spamhaus +100
		"192.0.2.12":   {"botnet", p100},  // feodo +12 h: day 0
		"203.0.113.1":  {"", time.Time{}}, // no prediction, listed by feodo: not counted
	})
	ingestList(t, s, listRun("feodo", ModeCumulative, 90, 0), firstSeen(map[string]time.Time{
		"192.0.2.1": p100.Add(10 * day), "192.0.2.2": p100.Add(40 * day), "192.0.2.3": p100.Add(-5 * day),
		"192.0.2.9": p300.Add(60 * day), "192.0.2.12": p100.Add(12 * time.Hour), "203.0.113.1": p100,
		"198.51.100.1": p100, // listed, never predicted
	}))
	// spamhaus gives no dates: its first run (listT0) is the confirmation.
	// The network holds predicted addresses but confirms none of them.
	ingestList(t, s, listRun("spamhaus", ModeSnapshot, 90, 0), list("192.0.2.2", "192.0.2.5", "192.0.2.6", "2001:db8::11", "192.0.2.0/24"))
	ingestList(t, s, listRun("blde", ModeCumulative, 60, 0), firstSeen(map[string]time.Time{
		"192.0.2.7": p100.Add(-time.Hour), "192.0.2.8": p300.Add(200 * day), "192.0.2.9": p300.Add(30*day + 23*time.Hour),
	}))

	fig := func(pred, conf, w30, w90, w365, before int64, median, p90 *int64) LeadTimeFigures {
		f := LeadTimeFigures{Predicted: pred, Confirmed: conf, Within30: w30, Within90: w90, Within365: w365,
			ConfirmedBefore: before, MedianDays: median, P90Days: p90}
		if conf > 0 {
			f.BeforeShare = float64(before) / float64(conf)
		}
		return f
	}
	// Overall lead days, sorted: -5 -1 0 10 30 40 100 100 200 400 (ten
	// confirmed of twelve). Median: the 5th (30); p90: the 9th (200).
	want := LeadTimeReport{
		LeadTimeFigures: fig(12, 10, 3, 4, 7, 2, days(30), days(200)),
		ByCategory: []LeadTimeGroup{
			{"botnet", fig(5, 4, 2, 3, 3, 1, days(0), days(40))},    // -5 0 10 40
			{"spam", fig(3, 3, 0, 0, 1, 1, days(100), days(400))},   // -1 100 400
			{"scanner", fig(3, 2, 1, 1, 2, 0, days(30), days(200))}, // 30 200
			{"(none)", fig(1, 1, 0, 0, 1, 0, days(100), days(100))}, // 100
		},
		ByFeed: []LeadTimeGroup{ // each feed's own listings of the twelve
			{"feodo", fig(12, 5, 2, 4, 4, 1, days(10), days(60))},      // -5 0 10 40 60
			{"spamhaus", fig(12, 4, 0, 0, 3, 0, days(100), days(400))}, // 100 100 100 400
			{"blde", fig(12, 3, 1, 1, 2, 1, days(30), days(200))},      // -1 30 200
		},
	}
	got, err := s.LeadTimes(ctx, LeadTimeQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}

	// One confirming feed: blde alone.
	got, err = s.LeadTimes(ctx, LeadTimeQuery{Feed: "blde"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want.ByFeed[2].LeadTimeFigures, got.LeadTimeFigures); d != "" {
		t.Errorf("--feed blde overall (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]LeadTimeGroup{want.ByFeed[2]}, got.ByFeed); d != "" {
		t.Errorf("--feed blde by feed (-want +got):\n%s", d)
	}
	wantCats := []LeadTimeGroup{
		{"botnet", fig(5, 0, 0, 0, 0, 0, nil, nil)},
		{"scanner", fig(3, 2, 1, 1, 2, 0, days(30), days(200))}, // 30 200
		{"spam", fig(3, 1, 0, 0, 0, 1, days(-1), days(-1))},     // -1
		{"(none)", fig(1, 0, 0, 0, 0, 0, nil, nil)},
	}
	if d := cmp.Diff(wantCats, got.ByCategory); d != "" {
		t.Errorf("--feed blde by category (-want +got):\n%s", d)
	}

	// Predictions since 150 days before listT0: the eight made at p100.
	// Lead days -5 -1 0 10 40 100 100 (seven of eight): median the 4th
	// (10), p90 the 6th (100).
	got, err = s.LeadTimes(ctx, LeadTimeQuery{Since: listT0.Add(-150 * day)})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(fig(8, 7, 2, 3, 5, 2, days(10), days(100)), got.LeadTimeFigures); d != "" {
		t.Errorf("--since (-want +got):\n%s", d)
	}

	// A feed that never ran: every prediction unconfirmed, named anyway.
	got, err = s.LeadTimes(ctx, LeadTimeQuery{Feed: "nosuch"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]LeadTimeGroup{{"nosuch", fig(12, 0, 0, 0, 0, 0, nil, nil)}}, got.ByFeed); d != "" {
		t.Errorf("--feed nosuch (-want +got):\n%s", d)
	}
}

// predictedList lists the addresses i < n of the scale test whose i%100
// is k or (k+1)%10: a fiftieth of them per feed, half shared with the next
// feed. Odd feeds give no First Seen.
type predictedList struct {
	n, i, k int
	p0      time.Time
}

func scaleAddr(i int) netip.Addr {
	v := uint32(20<<24) + uint32(i)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func scalePredictedAt(p0 time.Time, i int) time.Time {
	return p0.Add(time.Duration(i%365) * 24 * time.Hour)
}

func (g *predictedList) Next() (ListEntry, error) {
	for ; g.i < g.n; g.i++ {
		if r := g.i % 100; r != g.k && r != (g.k+1)%10 {
			continue
		}
		i := g.i
		g.i++
		a := scaleAddr(i)
		e := ListEntry{Prefix: netip.PrefixFrom(a, 32)}
		if g.k%2 == 0 {
			e.FirstSeen = scalePredictedAt(g.p0, i).Add(time.Duration((i*g.k)%400-40) * 24 * time.Hour)
		}
		return e, nil
	}
	return ListEntry{}, io.EOF
}

// TestLeadTimesAtScale builds a store of FOREWARN_LEADTIME_INDICATORS
// predicted indicators (5000000 when "5M") and ten list feeds, each listing
// a fiftieth of them (100,000 at 5M: more than most public lists hold), and
// times the report. FOREWARN_LEADTIME_DB (a SQLite file or a postgres://
// DSN) keeps the store to time it again. It runs only when asked:
// building 5M takes minutes. The bound is 2 s at 5M; the time is
// logged, not asserted, as a loaded machine would make it flaky.
func TestLeadTimesAtScale(t *testing.T) {
	v := os.Getenv("FOREWARN_LEADTIME_INDICATORS")
	if v == "" {
		t.Skip("set FOREWARN_LEADTIME_INDICATORS=5M (or a number) to time the lead-time report at scale")
	}
	n := 5_000_000
	if v != "5M" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var s *Store
	if path := os.Getenv("FOREWARN_LEADTIME_DB"); path != "" {
		// A SQLite file or PostgreSQL database kept between runs, built on
		// the first.
		var err error
		if s, err = Open(ctx, path); err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if v, err := s.DataVersion(ctx); err != nil {
			t.Fatal(err)
		} else if v.Count >= int64(n) {
			timeLeadTimes(t, s, n, listT0.Add(-800*24*time.Hour))
			return
		}
	} else {
		s = open(t)
	}
	p0 := listT0.Add(-800 * 24 * time.Hour)
	cats := []string{"botnet", "spam", "scanner", "phishing", "malware", "c2", "bruteforce", "proxy"}
	start := time.Now()
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]*merge.Stored, 0, BatchSize)
	for i := 0; i < n; i++ {
		st := &merge.Stored{Record: merge.Record{Addr: scaleAddr(i), LastSeenAt: listT0.Unix()}, Status: indicator.StatusActive,
			CreatedAt: listT0.Unix(), UpdatedAt: listT0.Unix(), ExpiresAt: listT0.Add(365 * 24 * time.Hour).Unix(), Hash: 7}
		st.PredictedAt, st.PredictedCategory = scalePredictedAt(p0, i).Unix(), cats[i%len(cats)]
		st.Has = st.Has.With(merge.LastSeenAt).With(merge.PredictedAt).With(merge.PredictedCategory)
		batch = append(batch, st)
		if len(batch) == BatchSize || i == n-1 {
			if err := tx.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d predictions written in %s", n, time.Since(start).Round(time.Second))
	start, cpu := time.Now(), cpuTime(t)
	for k := 0; k < 10; k++ {
		ingestList(t, s, listRun("feed"+strconv.Itoa(k), ModeCumulative, 50, 0), &predictedList{n: n, k: k, p0: p0})
	}
	t.Logf("ten feeds listed in %s (CPU %s)", time.Since(start).Round(time.Second), (cpuTime(t) - cpu).Round(time.Millisecond))
	timeLeadTimes(t, s, n, p0)
}

// timeLeadTimes times the report on the scale test's store.
func timeLeadTimes(t *testing.T, s *Store, n int, p0 time.Time) {
	ctx := context.Background()
	cats := 8
	for _, q := range []LeadTimeQuery{{}, {Feed: "feed3"}, {Since: p0.Add(300 * 24 * time.Hour)}} {
		start, cpu := time.Now(), cpuTime(t)
		r, err := s.LeadTimes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v: %s (CPU %s); overall %+v, median %d, p90 %d, %d categories, %d feeds", q, time.Since(start).Round(time.Millisecond), (cpuTime(t) - cpu).Round(time.Millisecond), r.LeadTimeFigures, *r.MedianDays, *r.P90Days, len(r.ByCategory), len(r.ByFeed))
		if q.Feed == "" && q.Since.IsZero() && (r.Predicted != int64(n) || len(r.ByFeed) != 10 || len(r.ByCategory) != cats) {
			t.Errorf("got %d predictions, %d feeds, %d categories", r.Predicted, len(r.ByFeed), len(r.ByCategory))
		}
	}
}

// The predictions are counted from the narrow indicators_predicted index,
// in its order: not by reading every indicator's wide row, nor by sorting.
func TestLeadTimesCountFromTheirIndex(t *testing.T) {
	s := open(t)
	for where, args := range map[string][]any{"i.s_predicted_at IS NOT NULL": nil, "i.s_predicted_at IS NOT NULL AND i.s_predicted_at >= ?": {1}} {
		plan := strings.Join(queryPlan(t, s, predictionsSQL(where), args...), "; ")
		if !strings.Contains(plan, "COVERING INDEX indicators_predicted") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %s", where, plan)
		}
	}
}

// A confirmation of another address inside a predicted netblock is counted
// apart, in Netblock, never in the figures of the predicted addresses
// themselves. Worked out by hand:
//
//	prediction  netblock          hosts listed in the netblock (not its own)   lead
//	A 10.0.0.1  10.0.0.0/24       10.0.0.9 +20 (its own 10.0.0.1 +10 skipped)   20
//	B 10.0.0.2  10.0.0.0/24       10.0.0.1 +10, 10.0.0.9 +20                    10
//	C 10.0.1.1  10.0.1.0/24       none (only its own, -3)                       -
//	D 10.0.2.1  10.0.0.0/16       10.0.1.1 -3, 10.0.3.3 +5, 10.0.0.1 +10, ...   -3
//	E 10.1.0.1  10.1.0.0/24       none                                          -
//	F 10.2.0.1  (no netblock)     not counted in Netblock
//	G 2001:db8:1::1 /48, predicted 300 days earlier: 2001:db8:1::5 +50 → 350
//
// The network 10.0.0.0/24 that spamhaus lists is not a host: it confirms
// nothing. Sorted leads -3 10 20 350: median the 2nd (10), p90 the 4th.
func TestLeadTimesNetblocksApart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	day := 24 * time.Hour
	p, p400 := listT0.Add(-100*day), listT0.Add(-400*day)
	preds := []struct {
		addr, netblock string
		at             time.Time
	}{
		{"10.0.0.1", "10.0.0.0/24", p}, {"10.0.0.2", "10.0.0.0/24", p}, {"10.0.1.1", "10.0.1.0/24", p},
		{"10.0.2.1", "10.0.0.0/16", p}, {"10.1.0.1", "10.1.0.0/24", p}, {"10.2.0.1", "", p},
		{"2001:db8:1::1", "2001:db8:1::/48", p400},
	}
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for _, pr := range preds {
		st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(pr.addr), LastSeenAt: listT0.Unix(), PredictedAt: pr.at.Unix(),
			PredictedCategory: "botnet"}, Status: indicator.StatusActive,
			CreatedAt: listT0.Unix(), UpdatedAt: listT0.Unix(), ExpiresAt: listT0.Add(365 * day).Unix(), Hash: 7}
		st.Has = st.Has.With(merge.LastSeenAt).With(merge.PredictedAt).With(merge.PredictedCategory)
		if pr.netblock != "" {
			st.LookupNetblock = netip.MustParsePrefix(pr.netblock)
		}
		rows = append(rows, st)
	}
	if err := tx.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	ingestList(t, s, listRun("feodo", ModeCumulative, 90, 0), firstSeen(map[string]time.Time{
		"10.0.0.1": p.Add(10 * day), "10.0.0.9": p.Add(20 * day), "10.0.1.1": p.Add(-3 * day),
	}))
	ingestList(t, s, listRun("spamhaus", ModeSnapshot, 90, 0), list("10.0.0.0/24"))
	ingestList(t, s, listRun("blde", ModeCumulative, 60, 0), firstSeen(map[string]time.Time{
		"10.0.3.3": p.Add(5 * day), "2001:db8:1::5": p.Add(50 * day),
	}))

	fig := func(pred, conf, w30, w90, w365, before int64, median, p90 *int64) LeadTimeFigures {
		f := LeadTimeFigures{Predicted: pred, Confirmed: conf, Within30: w30, Within90: w90, Within365: w365,
			ConfirmedBefore: before, MedianDays: median, P90Days: p90}
		if conf > 0 {
			f.BeforeShare = float64(before) / float64(conf)
		}
		return f
	}
	for _, c := range []struct {
		name              string
		q                 LeadTimeQuery
		netblock, overall LeadTimeFigures
	}{
		// Overall: only A (its own +10) and C (its own -3) are confirmed.
		{"every feed", LeadTimeQuery{}, fig(6, 4, 2, 2, 3, 1, days(10), days(350)), fig(7, 2, 1, 1, 1, 1, days(-3), days(10))},
		// blde alone: D through 10.0.3.3 (+5), G (350).
		{"--feed blde", LeadTimeQuery{Feed: "blde"}, fig(6, 2, 1, 1, 2, 0, days(5), days(350)), fig(7, 0, 0, 0, 0, 0, nil, nil)},
		// Since 150 days before listT0: G left out; -3 10 20.
		{"--since", LeadTimeQuery{Since: listT0.Add(-150 * day)}, fig(5, 3, 2, 2, 2, 1, days(10), days(20)), fig(6, 2, 1, 1, 1, 1, days(-3), days(10))},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.LeadTimes(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.netblock, got.Netblock); d != "" {
				t.Errorf("netblock (-want +got):\n%s", d)
			}
			if d := cmp.Diff(c.overall, got.LeadTimeFigures); d != "" {
				t.Errorf("overall (-want +got):\n%s", d)
			}
		})
	}
}

// Both groupings read the memberships' own copy of the prediction, with
// no probe of the indicators (one probe per membership, twice, was 3 s of
// CPU at a million memberships: docs/performance.md); the earliest listing
// per address is read from the partial covering index
// memberships_predicted in address order, and the per-feed grouping walks
// memberships_feed_lead in its (feed, lead days) order with no sort (a
// sort of every predicted membership, 0.84 s of the 2 s the report may
// take at a million, before SQLite migration 029).
func TestLeadTimesReadNarrowIndexes(t *testing.T) {
	s := open(t)
	where := "m.p_at IS NOT NULL"
	for name, c := range map[string]struct {
		query, index string
		args         []any
		sorted       bool // read in group order: no temporary B-tree
	}{
		"by category":           {byCategorySQL(where), "COVERING INDEX memberships_predicted", nil, false},
		"by category, since":    {byCategorySQL(where + " AND m.p_at >= ?"), "COVERING INDEX memberships_predicted", []any{int64(1)}, false},
		"by category, one feed": {byCategorySQL(where + " AND m.feed = ?"), "PRIMARY KEY (feed=?)", []any{"f"}, false},
		"by feed":               {byFeedSQL(where), "COVERING INDEX memberships_feed_lead", nil, true},
		"by feed, since":        {byFeedSQL(where + " AND m.p_at >= ?"), "COVERING INDEX memberships_feed_lead", []any{int64(1)}, true},
		"by feed, one feed":     {byFeedSQL(where + " AND m.feed = ?"), "COVERING INDEX memberships_feed_lead (feed=?)", []any{"f"}, true},
	} {
		plan := strings.Join(queryPlan(t, s, c.query, c.args...), "; ")
		t.Logf("%s: %s", name, plan)
		if !strings.Contains(plan, c.index) || strings.Contains(plan, "indicators") {
			t.Errorf("%s: plan %s, want %s and no indicators", name, plan, c.index)
		}
		if c.sorted && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s: plan %s sorts the memberships", name, plan)
		}
	}
}

// The prediction each membership carries follows the indicator whatever
// the order of the runs: listed first and predicted later, predicted
// first and listed later, the prediction moved and recategorised, and
// Seclytics purged. The report a user reads must be the same as if the
// runs had come in any other order.
func TestLeadTimesFollowPredictionChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	day := 24 * time.Hour
	p100 := listT0.Add(-100 * day)
	type pred = struct {
		cat string
		at  time.Time
	}
	report := func(q LeadTimeQuery) LeadTimeReport {
		t.Helper()
		r, err := s.LeadTimes(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	one := func(median int64) LeadTimeFigures {
		return LeadTimeFigures{Predicted: 1, Confirmed: 1, Within30: map[bool]int64{true: 1}[median <= 30],
			Within90: map[bool]int64{true: 1}[median <= 90], Within365: 1, MedianDays: days(median), P90Days: days(median)}
	}

	// Listed before any prediction: nothing to report.
	ingestList(t, s, listRun("feodo", ModeCumulative, 90, 0), firstSeen(map[string]time.Time{"192.0.2.1": p100.Add(10 * day)}))
	if r := report(LeadTimeQuery{}); r.Predicted != 0 || r.Confirmed != 0 {
		t.Fatalf("before any prediction: %+v", r.LeadTimeFigures)
	}
	// Then predicted: the existing membership takes the prediction.
	writePredictions(t, s, map[string]pred{"192.0.2.1": {"botnet", p100}, "192.0.2.2": {"spam", p100}})
	r := report(LeadTimeQuery{})
	if d := cmp.Diff([]LeadTimeGroup{{"botnet", one(10)}}, r.ByCategory[:1]); d != "" || r.Confirmed != 1 {
		t.Errorf("listed, then predicted (-want +got):\n%s", d)
	}
	// Predicted first, then listed: the new membership takes it.
	ingestList(t, s, listRun("blde", ModeCumulative, 60, 0), firstSeen(map[string]time.Time{"192.0.2.2": p100.Add(50 * day)}))
	r = report(LeadTimeQuery{Feed: "blde"})
	if d := cmp.Diff([]LeadTimeGroup{{"blde", LeadTimeFigures{Predicted: 2, Confirmed: 1, Within90: 1, Within365: 1,
		MedianDays: days(50), P90Days: days(50)}}}, r.ByFeed); d != "" {
		t.Errorf("predicted, then listed (-want +got):\n%s", d)
	}
	// The prediction moves 20 days later and changes category: the
	// lead time shrinks by 20 days, under the new category.
	writePredictions(t, s, map[string]pred{"192.0.2.1": {"scanner", p100.Add(20 * day)}, "192.0.2.2": {"spam", p100}})
	r = report(LeadTimeQuery{})
	want := []LeadTimeGroup{{"scanner", one(-10)}, {"spam", one(50)}}
	want[0].Within30, want[0].Within90, want[0].Within365, want[0].ConfirmedBefore, want[0].BeforeShare = 0, 0, 0, 1, 1
	if d := cmp.Diff(want, r.ByCategory); d != "" {
		t.Errorf("moved and recategorised (-want +got):\n%s", d)
	}
	if r = report(LeadTimeQuery{Since: p100.Add(10 * day)}); r.Predicted != 1 || r.Confirmed != 1 {
		t.Errorf("--since after the old date: %+v", r.LeadTimeFigures)
	}
	// Seclytics purged: the listed indicators stay, without predictions
	// (the unlisted one goes).
	writePredictions(t, s, map[string]pred{"192.0.2.3": {"spam", p100}})
	if _, err := s.DeleteFeed(ctx, "seclytics", true); err != nil {
		t.Fatal(err)
	}
	if r = report(LeadTimeQuery{}); r.Predicted != 0 || r.Confirmed != 0 || len(r.ByFeed) != 0 {
		t.Errorf("after the purge: %+v", r)
	}
}
