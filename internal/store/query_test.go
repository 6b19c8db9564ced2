package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"forewarn/internal/activity"
	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// searchRow is an indicator with the values the search filters and sorts
// on; none means it has no importance.
type searchRow struct {
	ip       string
	imp      float64
	none     bool
	cats     []string
	norm     string
	updated  int64
	status   indicator.Status
	noSource bool // no Seclytics attribute at all
}

func (r searchRow) stored() *merge.Stored {
	st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(r.ip)}, Exists: true, Status: r.status,
		CreatedAt: 100, UpdatedAt: r.updated}
	if r.noSource {
		return st
	}
	st.Has = st.Has.With(merge.Cluster)
	st.Cluster = "c-" + r.ip
	st.Created[merge.Cluster], st.Updated[merge.Cluster] = 1, 1
	if !r.none {
		st.Has = st.Has.With(merge.Importance)
		st.Importance = r.imp
	}
	if len(r.cats) > 0 {
		st.Has = st.Has.With(merge.DetectedCategories)
		st.DetectedCategories = r.cats
	}
	if r.norm != "" {
		st.Has = st.Has.With(merge.NormalizedImportance)
		st.Normalized = r.norm
	}
	return st
}

// searchRows makes n indicators with many ties in importance and update
// time, some without importance, IPv4 and IPv6.
func searchRows(n int) []searchRow {
	cats := [][]string{{"malicious"}, {"botnet", "malicious"}, {"phishing"}, nil, {"backscatter", "botnet"}}
	statuses := []indicator.Status{indicator.StatusActive, indicator.StatusActive, indicator.StatusReview, indicator.StatusWhitelisted, indicator.StatusExpired}
	rows := make([]searchRow, 0, n)
	for i := 0; i < n; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i / 250), byte(i % 250), 1}).String()
		if i%10 == 9 {
			ip = fmt.Sprintf("2001:db8::%x", i)
		}
		r := searchRow{ip: ip, imp: float64(i%21) * 5, none: i%13 == 0, cats: cats[i%len(cats)],
			updated: 1_700_000_000 + int64(i%17)*60, status: statuses[i%len(statuses)], noSource: i%97 == 0}
		if !r.none {
			r.norm = indicator.NormalizeImportance(r.imp)
		}
		rows = append(rows, r)
	}
	return rows
}

func commitSearchRows(tb testing.TB, s *Store, rows []searchRow) {
	tb.Helper()
	st := make([]*merge.Stored, len(rows))
	for i, r := range rows {
		st[i] = r.stored()
	}
	commitRows(tb, s, st)
}

// expectedOrder sorts rows as sort orders them.
func expectedOrder(rows []searchRow, sort string) []string {
	rows = slices.Clone(rows)
	key16 := func(r searchRow) []byte { return key(netip.MustParseAddr(r.ip)) }
	imp := func(r searchRow) float64 {
		if r.none || r.noSource {
			return -1
		}
		return r.imp
	}
	by := func(a, b searchRow) int {
		var c int
		switch strings.TrimPrefix(sort, "-") {
		case "importance":
			c = cmp.Compare(imp(a), imp(b))
		case "updated":
			c = cmp.Compare(a.updated, b.updated)
		case "confidence":
			// Written by Seclytics alone: its confidence while its
			// record has not expired, none after.
			c = cmp.Compare(seclyticsConfidence(a), seclyticsConfidence(b))
		}
		if c == 0 {
			c = bytes.Compare(key16(a), key16(b))
		}
		if strings.HasPrefix(sort, "-") {
			c = -c
		}
		return c
	}
	slices.SortFunc(rows, by)
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ip
	}
	return out
}

func seclyticsConfidence(r searchRow) int {
	if r.status == indicator.StatusExpired {
		return -1
	}
	return SeclyticsConfidence
}

// walk follows Next from the first page to the last and returns every
// value in order. between, if set, runs after each page.
func walk(t *testing.T, s *Store, q IndicatorQuery, between func(page int)) []string {
	t.Helper()
	var got []string
	for page := 0; ; page++ {
		p, err := s.SearchIndicators(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if q.Limit > 0 && len(p.Indicators) > q.Limit {
			t.Fatalf("page %d has %d indicators, limit %d", page, len(p.Indicators), q.Limit)
		}
		for _, ind := range p.Indicators {
			got = append(got, ind.Addr.String())
		}
		if p.Next == "" {
			return got
		}
		if len(p.Indicators) == 0 {
			t.Fatalf("page %d is empty but has a next cursor", page)
		}
		if page > 10000 {
			t.Fatal("pagination does not end")
		}
		q.Cursor = p.Next
		if between != nil {
			between(page)
		}
	}
}

// TestSearchIndicatorsWalksEveryPageOnceInEachSort walks every sort at
// several page sizes. The small pages (1 and 7) walk a store of 260 rows:
// a page boundary after every row and every seventh, and those rows hold
// every kind of neighbour the orders have (equal importances, updates and
// confidences, no importance, no source, IPv6 among IPv4, two /16s), at a
// fifth of the pages 1,203 rows would take. The large pages walk 1,203
// rows, more than MaxIndicatorLimit, so that the limit is capped and the
// cap's page has a next one.
func TestSearchIndicatorsWalksEveryPageOnceInEachSort(t *testing.T) {
	small, large := open(t), open(t)
	smallRows, rows := searchRows(260), searchRows(1203)
	commitSearchRows(t, small, smallRows)
	commitSearchRows(t, large, rows)
	for _, sort := range IndicatorSorts {
		for _, limit := range []int{1, 7, 100, 1203, 5000} {
			if limit == 1 && sort != "value" && sort != "-importance" {
				continue // a page per row: twice is enough
			}
			s, rows := large, rows
			if limit < 100 {
				s, rows = small, smallRows
			}
			want := expectedOrder(rows, sort)
			t.Run(fmt.Sprintf("%s/limit=%d", sort, limit), func(t *testing.T) {
				got := walk(t, s, IndicatorQuery{Sort: sort, Limit: limit}, nil)
				if diff := gocmp.Diff(want, got, typedValues); diff != "" {
					t.Fatalf("walk differs from the expected order (-want +got):\n%s", diff)
				}
			})
		}
	}
	t.Run("default sort is value", func(t *testing.T) {
		got := walk(t, large, IndicatorQuery{}, nil)
		if diff := gocmp.Diff(expectedOrder(rows, "value"), got); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

func TestSearchIndicatorsPageSizes(t *testing.T) {
	s := open(t)
	commitSearchRows(t, s, searchRows(1203))
	for _, tc := range []struct{ limit, want int }{{0, DefaultIndicatorLimit}, {5, 5}, {5000, MaxIndicatorLimit}} {
		p, err := s.SearchIndicators(context.Background(), IndicatorQuery{Limit: tc.limit})
		if err != nil || len(p.Indicators) != tc.want || p.Next == "" {
			t.Errorf("limit %d: %d indicators, next %q, %v; want %d and a next page", tc.limit, len(p.Indicators), p.Next, err, tc.want)
		}
	}
	// An exact last page has no next cursor: no empty page to fetch.
	p, err := s.SearchIndicators(context.Background(), IndicatorQuery{Limit: 1000, Cursor: mustPage(t, s, IndicatorQuery{Limit: 203}).Next})
	if err != nil || len(p.Indicators) != 1000 || p.Next != "" {
		t.Errorf("last page: %d indicators, next %q, %v", len(p.Indicators), p.Next, err)
	}
	empty := open(t)
	p, err = empty.SearchIndicators(context.Background(), IndicatorQuery{})
	if err != nil || len(p.Indicators) != 0 || p.Indicators == nil || p.Next != "" {
		t.Errorf("empty store: %+v %v (want an empty, non-nil list: JSON [] rather than null)", p, err)
	}
}

func mustPage(t *testing.T, s *Store, q IndicatorQuery) IndicatorPage {
	t.Helper()
	p, err := s.SearchIndicators(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSearchIndicatorsIsStableUnderIngest inserts indicators between pages,
// both behind the cursor and ahead of it: every indicator that existed
// throughout appears exactly once, and those inserted ahead appear too.
func TestSearchIndicatorsIsStableUnderIngest(t *testing.T) {
	for _, sort := range []string{"value", "-value", "updated", "-updated", "importance"} {
		t.Run(sort, func(t *testing.T) {
			s := open(t)
			rows := searchRows(600)
			commitSearchRows(t, s, rows)
			var inserted []searchRow
			seq := 0
			between := func(int) {
				// One indicator at each end of every order, and one in the
				// middle: some sort behind the cursor, some ahead.
				var batch []searchRow
				for _, r := range []searchRow{
					{ip: fmt.Sprintf("10.0.%d.2", seq%250), imp: 50, updated: 1_700_000_000 + 8*60},
					{ip: fmt.Sprintf("0.0.%d.%d", seq/250, seq%250), imp: 0, updated: 1_600_000_000},
					{ip: fmt.Sprintf("2001:db8:ffff::%x", seq), imp: 100, updated: 1_800_000_000},
				} {
					r.ip, r.status = netip.MustParseAddr(r.ip).String(), indicator.StatusActive
					batch = append(batch, r)
				}
				seq++
				commitSearchRows(t, s, batch)
				inserted = append(inserted, batch...)
			}
			got := walk(t, s, IndicatorQuery{Sort: sort, Limit: 37}, between)
			seen := map[string]int{}
			for _, v := range got {
				seen[v]++
				if seen[v] > 1 {
					t.Fatalf("%s appears twice", v)
				}
			}
			for _, r := range rows {
				if seen[r.ip] != 1 {
					t.Fatalf("%s, present throughout, appears %d times", r.ip, seen[r.ip])
				}
			}
			// The first order, with everything inserted, is what a walk
			// must follow: a subsequence of it.
			all := expectedOrder(append(slices.Clone(rows), inserted...), sort)
			pos := map[string]int{}
			for i, v := range all {
				pos[v] = i
			}
			for i := 1; i < len(got); i++ {
				if pos[got[i]] < pos[got[i-1]] {
					t.Fatalf("%s came after %s: out of %s order", got[i], got[i-1], sort)
				}
			}
			// The newest of those sorting last was inserted after the last page.
			ahead := 0
			for _, r := range inserted {
				if seen[r.ip] == 1 {
					ahead++
				}
			}
			if ahead == 0 {
				t.Error("no indicator inserted ahead of the cursor appeared")
			}
		})
	}
}

// TestSearchIndicatorsWhileIngesting walks pages while another goroutine
// commits ingests as fast as it can.
func TestSearchIndicatorsWhileIngesting(t *testing.T) {
	s := open(t)
	rows := searchRows(800)
	commitSearchRows(t, s, rows)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			st := searchRow{ip: fmt.Sprintf("10.%d.%d.3", 100+i/250%100, i%250), imp: float64(i % 100), updated: 1_700_000_000 + int64(i),
				status: indicator.StatusActive}.stored()
			tx, err := s.BeginIngest(ctx)
			if err != nil {
				return
			}
			if err := tx.Write(ctx, []*merge.Stored{st}); err != nil {
				tx.Rollback()
				return
			}
			tx.Commit()
		}
	}()
	for _, sort := range IndicatorSorts {
		got := walk(t, s, IndicatorQuery{Sort: sort, Limit: 23}, nil)
		seen := map[string]bool{}
		for _, v := range got {
			if seen[v] {
				t.Fatalf("%s: %s appears twice", sort, v)
			}
			seen[v] = true
		}
		for _, r := range rows {
			if !seen[r.ip] {
				t.Fatalf("%s: %s missing", sort, r.ip)
			}
		}
	}
	cancel()
	wg.Wait()
}

func TestSearchIndicatorsFilters(t *testing.T) {
	s := open(t)
	rows := searchRows(1203)
	commitSearchRows(t, s, rows)
	f := func(v float64) *float64 { return &v }
	has := func(l []string, v string) bool { return slices.Contains(l, v) }
	for _, tc := range []struct {
		name string
		q    IndicatorQuery
		keep func(r searchRow) bool
	}{
		{"text", IndicatorQuery{Q: "10.1."}, func(r searchRow) bool { return strings.Contains(r.ip, "10.1.") }},
		{"text ipv6 upper case", IndicatorQuery{Q: "DB8::4"}, func(r searchRow) bool { return strings.Contains(r.ip, "db8::4") }},
		{"cidr v4", IndicatorQuery{CIDR: netip.MustParsePrefix("10.2.0.0/15")}, func(r searchRow) bool {
			return netip.MustParsePrefix("10.2.0.0/15").Contains(netip.MustParseAddr(r.ip))
		}},
		{"cidr v4 unmasked", IndicatorQuery{CIDR: netip.MustParsePrefix("10.3.7.9/24")}, func(r searchRow) bool {
			return netip.MustParsePrefix("10.3.7.0/24").Contains(netip.MustParseAddr(r.ip))
		}},
		{"cidr v6", IndicatorQuery{CIDR: netip.MustParsePrefix("2001:db8::/120")}, func(r searchRow) bool {
			return netip.MustParsePrefix("2001:db8::/120").Contains(netip.MustParseAddr(r.ip))
		}},
		{"cidr everything v4", IndicatorQuery{CIDR: netip.MustParsePrefix("0.0.0.0/0")}, func(r searchRow) bool { return netip.MustParseAddr(r.ip).Is4() }},
		{"category", IndicatorQuery{Category: "botnet"}, func(r searchRow) bool { return !r.noSource && has(r.cats, "botnet") }},
		{"text in an attribute", IndicatorQuery{Text: "C-10.1."}, func(r searchRow) bool { return !r.noSource && strings.Contains(r.ip, "10.1.") }},
		{"text in a category", IndicatorQuery{Text: "otne"}, func(r searchRow) bool { return !r.noSource && has(r.cats, "botnet") }},
		{"text in the value", IndicatorQuery{Text: "db8::4"}, func(r searchRow) bool { return strings.Contains(r.ip, "db8::4") }},
		{"category case-insensitive", IndicatorQuery{Category: "PHISHING"}, func(r searchRow) bool { return !r.noSource && has(r.cats, "phishing") }},
		{"category whole word", IndicatorQuery{Category: "bot"}, func(searchRow) bool { return false }},
		{"normalized", IndicatorQuery{Normalized: "high"}, func(r searchRow) bool { return !r.noSource && r.norm == indicator.High }},
		{"min importance", IndicatorQuery{MinImportance: f(72.5)}, func(r searchRow) bool { return !r.noSource && !r.none && r.imp >= 72.5 }},
		{"min importance 0", IndicatorQuery{MinImportance: f(0)}, func(r searchRow) bool { return !r.noSource && !r.none }},
		{"status", IndicatorQuery{Status: indicator.StatusReview}, func(r searchRow) bool { return r.status == indicator.StatusReview }},
		{"source", IndicatorQuery{Source: "seclytics"}, func(r searchRow) bool { return !r.noSource }},
		{"updated since", IndicatorQuery{UpdatedSince: time.Unix(1_700_000_000+12*60, 0)}, func(r searchRow) bool { return r.updated >= 1_700_000_000+12*60 }},
		{"combined", IndicatorQuery{Q: "10.", Category: "malicious", Status: indicator.StatusActive, MinImportance: f(40), UpdatedSince: time.Unix(1_700_000_000+5*60, 0)},
			func(r searchRow) bool {
				return strings.Contains(r.ip, "10.") && !r.noSource && has(r.cats, "malicious") && r.status == indicator.StatusActive &&
					!r.none && r.imp >= 40 && r.updated >= 1_700_000_000+5*60
			}},
	} {
		t.Run(tc.name+"/count", func(t *testing.T) {
			want := 0
			for _, r := range rows {
				if tc.keep(r) {
					want++
				}
			}
			n, capped, err := s.CountIndicators(context.Background(), tc.q, len(rows))
			if err != nil || n != int64(want) || capped {
				t.Fatalf("CountIndicators = %d, capped %v, %v; want %d uncapped", n, capped, err, want)
			}
			if want > 1 {
				// The search page says "more than N" rather than read on.
				n, capped, err = s.CountIndicators(context.Background(), tc.q, want-1)
				if err != nil || n != int64(want-1) || !capped {
					t.Fatalf("CountIndicators capped at %d = %d, capped %v, %v; want %d capped", want-1, n, capped, err, want-1)
				}
			}
		})
		for _, sort := range IndicatorSorts {
			t.Run(tc.name+"/"+sort, func(t *testing.T) {
				var kept []searchRow
				for _, r := range rows {
					if tc.keep(r) {
						kept = append(kept, r)
					}
				}
				q := tc.q
				// About three pages whatever the filter keeps: every walk
				// of two rows or more crosses a page boundary (with 50 a
				// page, the narrow filters' did not), and the broad ones
				// read 3 pages instead of 24, each of which scans the
				// rest of the table when sorted by importance.
				q.Sort, q.Limit = sort, max(1, len(kept)/3)
				got := walk(t, s, q, nil)
				if diff := gocmp.Diff(expectedOrder(kept, sort), got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
				if len(kept) == 0 && tc.name != "category whole word" {
					t.Fatal("the filter case selects nothing: it tests nothing")
				}
			})
		}
	}
}

// TestSearchIndicatorsBuildsIndicatorsAsLookup: a page holds what Lookup
// returns for each address.
func TestSearchIndicatorsBuildsIndicatorsAsLookup(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	r := &activity.Run{Feed: "seclytics", Trigger: "cli", Status: activity.StatusSucceeded, StartedAt: time.UnixMilli(1_700_000_000_123)}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	rows := []*merge.Stored{stored("1.2.3.4", indicator.StatusActive), stored("2001:db8::1", indicator.StatusReview)}
	for _, st := range rows {
		st.Created[merge.Cluster], st.Updated[merge.Cluster] = r.ID, r.ID
	}
	commitRows(t, s, rows)
	p := mustPage(t, s, IndicatorQuery{})
	if len(p.Indicators) != 2 {
		t.Fatalf("%d indicators", len(p.Indicators))
	}
	for _, got := range p.Indicators {
		want, err := s.Lookup(ctx, got.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, got, typedValues); diff != "" {
			t.Errorf("%s (-lookup +search):\n%s", got.Addr, diff)
		}
	}
	if at := p.Indicators[0].Attributes; len(at) == 0 || !at[0].CreatedAt.Equal(r.StartedAt) {
		t.Errorf("attribute times not resolved from runs: %+v", at)
	}
}

func TestSearchIndicatorsRejectsBadQueriesAndCursors(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	commitSearchRows(t, s, searchRows(50))
	valueNext := mustPage(t, s, IndicatorQuery{Limit: 10}).Next
	impNext := mustPage(t, s, IndicatorQuery{Limit: 10, Sort: "importance"}).Next
	runNext := encodeRunCursor(7)
	for _, tc := range []struct {
		name string
		q    IndicatorQuery
		want error
		says string
	}{
		{"unknown sort", IndicatorQuery{Sort: "ip"}, ErrBadQuery, "value, -value, importance, -importance, updated, -updated"},
		{"unknown status", IndicatorQuery{Status: "active-ish"}, ErrBadQuery, "Whitelisted"},
		{"unknown band", IndicatorQuery{Normalized: "Critical"}, ErrBadQuery, "High, Medium or Low"},
		{"unknown source", IndicatorQuery{Source: "Spamhaus"}, ErrBadQuery, "Seclytics"},
		{"negative limit", IndicatorQuery{Limit: -1}, ErrBadQuery, "1 to 1000"},
		{"garbage cursor", IndicatorQuery{Cursor: "not a cursor"}, ErrBadCursor, "start again"},
		{"truncated cursor", IndicatorQuery{Cursor: valueNext[:len(valueNext)-3]}, ErrBadCursor, "start again"},
		{"cursor of another sort", IndicatorQuery{Sort: "-value", Cursor: valueNext}, ErrBadCursor, "another sort"},
		{"importance cursor for updated", IndicatorQuery{Sort: "updated", Cursor: impNext}, ErrBadCursor, "another sort"},
		{"runs cursor", IndicatorQuery{Cursor: runNext}, ErrBadCursor, "start again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.SearchIndicators(ctx, tc.q)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	// The same cursor with its own sort is fine.
	if _, err := s.SearchIndicators(ctx, IndicatorQuery{Sort: "importance", Cursor: impNext}); err != nil {
		t.Fatal(err)
	}
}

func TestListRuns(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	statuses := []activity.Status{activity.StatusSucceeded, activity.StatusFailed, activity.StatusUnchanged}
	type run struct {
		id     int64
		feed   string
		status activity.Status
	}
	var all []run
	add := func(feed string, st activity.Status) {
		r := &activity.Run{Feed: feed, Trigger: "cli", Status: activity.StatusRunning, StartedAt: time.Now()}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		r.Status = st
		if err := s.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		all = append(all, run{r.ID, feed, st})
	}
	for i := 0; i < 130; i++ {
		feed := "seclytics"
		if i%4 == 3 {
			feed = "other"
		}
		add(feed, statuses[i%len(statuses)])
	}
	for _, tc := range []struct {
		name string
		q    RunQuery
	}{
		{"all", RunQuery{Limit: 7}},
		{"default limit", RunQuery{}},
		{"feed", RunQuery{Feed: "seclytics", Limit: 9}},
		{"status", RunQuery{Status: "failed", Limit: 5}},
		{"feed and status", RunQuery{Feed: "other", Status: "succeeded", Limit: 4}},
		{"no such feed", RunQuery{Feed: "nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []int64
			for i := len(all) - 1; i >= 0; i-- {
				r := all[i]
				if (tc.q.Feed == "" || r.feed == tc.q.Feed) && (tc.q.Status == "" || string(r.status) == tc.q.Status) {
					want = append(want, r.id)
				}
			}
			var got []int64
			q := tc.q
			for pages := 0; ; pages++ {
				p, err := s.ListRuns(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if limit := cmp.Or(q.Limit, DefaultRunLimit); len(p.Runs) > limit {
					t.Fatalf("%d runs on a page of %d", len(p.Runs), limit)
				}
				for _, r := range p.Runs {
					got = append(got, r.ID)
				}
				if p.Next == "" {
					break
				}
				// Runs recorded meanwhile are newer than the walk: they
				// shift nothing.
				add("seclytics", activity.StatusSucceeded)
				q.Cursor = p.Next
			}
			if diff := gocmp.Diff(want, got, typedValues); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	// A page larger than the maximum is the maximum (the indicator
	// search shows the same rule on a store large enough to see it).
	if n, err := pageLimit(10_000, DefaultRunLimit, MaxRunLimit); n != MaxRunLimit || err != nil {
		t.Errorf("limit 10000: %d, %v", n, err)
	}
	for _, tc := range []struct {
		q    RunQuery
		want error
	}{
		{RunQuery{Status: "done"}, ErrBadQuery},
		{RunQuery{Limit: -5}, ErrBadQuery},
		{RunQuery{Cursor: "garbage!"}, ErrBadCursor},
		{RunQuery{Cursor: indicatorCursor{sort: indicatorSorts["value"].code}.encode()}, ErrBadCursor},
		{RunQuery{Cursor: encodeRunCursor(5) + "AA"}, ErrBadCursor},
	} {
		if _, err := s.ListRuns(ctx, tc.q); !errors.Is(err, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.q, err, tc.want)
		}
	}
	if _, err := s.ListRuns(ctx, RunQuery{Status: "done"}); !strings.Contains(fmt.Sprint(err), "succeeded") {
		t.Errorf("bad status error does not name the statuses: %v", err)
	}
}

// TestSearchUpdatedSinceAfterTheCursor: a cursor earlier than UpdatedSince
// (the client narrowed the filter mid-walk) continues from since.
func TestSearchUpdatedSinceAfterTheCursor(t *testing.T) {
	s := open(t)
	rows := searchRows(400)
	commitSearchRows(t, s, rows)
	since := int64(1_700_000_000 + 10*60)
	var kept []searchRow
	for _, r := range rows {
		if r.updated >= since {
			kept = append(kept, r)
		}
	}
	first := mustPage(t, s, IndicatorQuery{Sort: "updated", Limit: 5})
	got := walk(t, s, IndicatorQuery{Sort: "updated", Limit: 30, Cursor: first.Next, UpdatedSince: time.Unix(since, 0)}, nil)
	if diff := gocmp.Diff(expectedOrder(kept, "updated"), got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// TestSearchPagesSeekTheirCursor: by value and by update time, a page
// starts with an index seek to the cursor and needs no sort, so its cost
// does not grow with the store or with how far a client has paged (many
// indicators share one update time: a scan through the ties would).
func TestSearchPagesSeekTheirCursor(t *testing.T) {
	s := open(t)
	commitSearchRows(t, s, searchRows(300))
	for _, sort := range []string{"value", "-value", "updated", "-updated"} {
		t.Run(sort, func(t *testing.T) {
			q := IndicatorQuery{Sort: sort, Limit: 10, Category: "malicious", UpdatedSince: time.Unix(1, 0)}
			q.Cursor = mustPage(t, s, q).Next
			query, args, _, _, err := q.sql(s.d)
			if err != nil {
				t.Fatal(err)
			}
			plan := queryPlan(t, s, query, args...)
			want, seek := "SEARCH indicators USING PRIMARY KEY (", "ip"
			if strings.HasSuffix(sort, "updated") {
				want, seek = "SEARCH indicators USING INDEX indicators_updated (", "(updated_at,ip)"
			}
			if p := strings.Join(plan, "; "); !strings.HasPrefix(p, want) || !strings.Contains(p, seek) || strings.Contains(p, "TEMP B-TREE") {
				t.Errorf("plan %q, want %q with %q, and no sort", p, want, seek)
			}
		})
	}
}

func TestCIDRKeyRange(t *testing.T) {
	for _, tc := range []struct {
		p      string
		lo, hi string
	}{
		{"10.1.2.3/24", "10.1.2.0", "10.1.2.255"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"192.0.2.7/32", "192.0.2.7", "192.0.2.7"},
		{"2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
	} {
		lo, hi := cidrKeyRange(netip.MustParsePrefix(tc.p))
		if !bytes.Equal(lo, key(netip.MustParseAddr(tc.lo))) || !bytes.Equal(hi, key(netip.MustParseAddr(tc.hi))) {
			t.Errorf("%s: %x..%x, want %s..%s", tc.p, lo, hi, tc.lo, tc.hi)
		}
	}
}

// BenchmarkSearchIndicators times one page of 100 for each sort, from the
// start and from the middle, and for the text and category filters, common
// and absent (which reads the whole table). It uses the store at
// FOREWARN_BENCH_DB if set (a million-indicator store from scripts/bench),
// else builds 100k indicators.
func BenchmarkSearchIndicators(b *testing.B) {
	ctx := context.Background()
	var s *Store
	if path := os.Getenv("FOREWARN_BENCH_DB"); path != "" {
		var err error
		if s, err = Open(ctx, path); err != nil {
			b.Fatal(err)
		}
	} else {
		var err error
		if s, err = Open(ctx, filepath.Join(b.TempDir(), "s.db")); err != nil {
			b.Fatal(err)
		}
		fill(b, s, 100000)
	}
	defer s.Close()
	mid := netip.MustParseAddr("128.0.0.0").As16()
	midCursor := func(sort string, k uint64) string {
		return indicatorCursor{sort: indicatorSorts[sort].code, key: k, ip: mid}.encode()
	}
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name string
		q    IndicatorQuery
	}{
		{"counts", IndicatorQuery{}}, // IndicatorCounts, not a search
	}
	for _, sort := range IndicatorSorts {
		cases = append(cases, struct {
			name string
			q    IndicatorQuery
		}{"sort=" + sort + "/first", IndicatorQuery{Sort: sort}})
		var k uint64
		switch strings.TrimPrefix(sort, "-") {
		case "importance":
			k = math.Float64bits(50)
		case "updated":
			// The update time of the first indicator in this order, so
			// that the middle cursor lands among the indicators.
			p, err := s.SearchIndicators(ctx, IndicatorQuery{Sort: sort, Limit: 1})
			if err != nil || len(p.Indicators) == 0 {
				b.Fatalf("first page by %s: %v", sort, err)
			}
			k = uint64(p.Indicators[0].UpdatedAt.Unix())
		}
		cases = append(cases, struct {
			name string
			q    IndicatorQuery
		}{"sort=" + sort + "/middle", IndicatorQuery{Sort: sort, Cursor: midCursor(sort, k)}})
	}
	cases = append(cases, []struct {
		name string
		q    IndicatorQuery
	}{
		{"q=1 (common)", IndicatorQuery{Q: "1"}},
		{"q=10.1.", IndicatorQuery{Q: "10.1."}},
		{"q=10.1./-importance", IndicatorQuery{Q: "10.1.", Sort: "-importance"}},
		{"q=absent", IndicatorQuery{Q: "203.0.113.250"}},
		{"category=tor", IndicatorQuery{Category: "tor"}},
		{"category=tor/-importance", IndicatorQuery{Category: "TOR", Sort: "-importance"}},
		{"category=absent", IndicatorQuery{Category: "nonexistent"}},
		{"cidr=10/8", IndicatorQuery{CIDR: netip.MustParsePrefix("10.0.0.0/8")}},
		{"min-importance=90/-updated", IndicatorQuery{MinImportance: f(90), Sort: "-updated"}},
		{"status=Review (absent)", IndicatorQuery{Status: indicator.StatusReview}},
	}...)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				if c.name == "counts" {
					if _, err := s.IndicatorCounts(ctx); err != nil {
						b.Fatal(err)
					}
					continue
				}
				p, err := s.SearchIndicators(ctx, c.q)
				if err != nil {
					b.Fatal(err)
				}
				n = len(p.Indicators)
			}
			b.ReportMetric(float64(n), "indicators")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/page")
		})
	}
}

// typedValues compares the read model's addresses and netblocks by value:
// they have unexported fields that go-cmp will not look into.
var typedValues = gocmp.Options{
	gocmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	gocmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}
