package store

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"
)

// entries is an in-test list: each string a host or network.
type entries struct {
	list []ListEntry
	i    int
	err  error // returned after the list instead of io.EOF
}

func (e *entries) Next() (ListEntry, error) {
	if e.i == len(e.list) {
		if e.err != nil {
			return ListEntry{}, e.err
		}
		return ListEntry{}, io.EOF
	}
	e.i++
	return e.list[e.i-1], nil
}

func list(prefixes ...string) *entries {
	e := &entries{}
	for _, s := range prefixes {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a := netip.MustParseAddr(s)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		e.list = append(e.list, ListEntry{Prefix: p})
	}
	return e
}

var listT0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func listRun(feed string, mode ListMode, conf int, day int) ListRun {
	return ListRun{Feed: feed, Source: "Src " + feed, Mode: mode, Confidence: conf, Now: listT0.Add(time.Duration(day) * 24 * time.Hour)}
}

func ingestList(t *testing.T, s *Store, run ListRun, e ListEntries) ListCounts {
	t.Helper()
	c, err := s.IngestList(context.Background(), run, e)
	if err != nil {
		t.Fatalf("ingest %s: %v", run.Feed, err)
	}
	return c
}

func listed(t *testing.T, s *Store, p string) Listed {
	t.Helper()
	pre, err := netip.ParsePrefix(p)
	if err != nil {
		a := netip.MustParseAddr(p)
		pre = netip.PrefixFrom(a, a.BitLen())
	}
	l, err := s.ListedIndicator(context.Background(), pre)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return l
}

func feedsOf(l Listed) map[string]bool {
	m := map[string]bool{}
	for _, f := range l.Feeds {
		m[f.Feed] = f.Listed
	}
	return m
}

func conf(l Listed) int {
	if l.Confidence == nil {
		return -1
	}
	return *l.Confidence
}

func TestListTwoFeedsOneIndicator(t *testing.T) {
	s := open(t)
	c := ingestList(t, s, listRun("a", ModeSnapshot, 90, 0), list("192.0.2.1", "198.51.100.0/24", "2001:db8::/32"))
	if c.Entries != 3 || c.Created != 3 || c.Updated != 0 || c.Unchanged != 0 {
		t.Fatalf("first run: %+v", c)
	}
	c = ingestList(t, s, listRun("b", ModeSnapshot, 50, 0), list("192.0.2.1", "::ffff:198.51.100.7/120"))
	// 198.51.100.7/120 in mapped space is 198.51.100.0/24 of feed a.
	if c.Entries != 2 || c.Created != 0 || c.Updated != 2 {
		t.Fatalf("second feed: %+v", c)
	}
	for _, p := range []string{"192.0.2.1", "198.51.100.0/24"} {
		l := listed(t, s, p)
		if got := feedsOf(l); len(got) != 2 || !got["a"] || !got["b"] {
			t.Errorf("%s: feeds %v, want a and b listing", p, got)
		}
		// 1 - (1-0.9)(1-0.5) = 0.95
		if conf(l) != 95 || l.Sources != 2 || l.Status != indicator.StatusActive {
			t.Errorf("%s: confidence %d, sources %d, status %s; want 95, 2, Active", p, conf(l), l.Sources, l.Status)
		}
		if l.Feeds[1].Source != "Src b" {
			t.Errorf("%s: source %q", p, l.Feeds[1].Source)
		}
	}
	if l := listed(t, s, "2001:db8::/32"); conf(l) != 90 || l.Sources != 1 {
		t.Errorf("one feed: confidence %d, sources %d; want 90, 1", conf(l), l.Sources)
	}
	// A network is not its first address.
	if _, err := s.ListedIndicator(context.Background(), netip.MustParsePrefix("198.51.100.0/32")); !errors.Is(err, ErrNotFound) {
		t.Errorf("198.51.100.0 alone: %v, want not found", err)
	}
	v, err := s.DataVersion(context.Background())
	if err != nil || v.Count != 3 {
		t.Errorf("store counts %d indicators (%v), want 3", v.Count, err)
	}
}

func TestListSnapshotDelists(t *testing.T) {
	s := open(t)
	ingestList(t, s, listRun("a", ModeSnapshot, 60, 0), list("192.0.2.1", "192.0.2.2", "10.0.0.0/8"))
	ingestList(t, s, listRun("b", ModeCumulative, 40, 0), list("192.0.2.2"))
	// A failed run (the stream breaks) delists nothing.
	broken := list("192.0.2.1")
	broken.err = errors.New("connection reset")
	if _, err := s.IngestList(context.Background(), listRun("a", ModeSnapshot, 60, 1), broken); err == nil {
		t.Fatal("a broken stream was ingested")
	}
	// So does a cancelled one.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.IngestList(ctx, listRun("a", ModeSnapshot, 60, 1), list("192.0.2.1")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	for _, p := range []string{"192.0.2.1", "192.0.2.2", "10.0.0.0/8"} {
		if l := listed(t, s, p); !feedsOf(l)["a"] || l.Status != indicator.StatusActive {
			t.Fatalf("%s after failed runs: %+v", p, l)
		}
	}
	c := ingestList(t, s, listRun("a", ModeSnapshot, 60, 1), list("192.0.2.1"))
	if c.Delisted != 2 || c.Unchanged != 1 || c.Created != 0 {
		t.Fatalf("snapshot run: %+v, want 2 delisted, 1 unchanged", c)
	}
	// Delisted by its last feed: Expired, no confidence.
	l := listed(t, s, "10.0.0.0/8")
	if l.Status != indicator.StatusExpired || l.Confidence != nil || l.Sources != 0 {
		t.Errorf("10.0.0.0/8: %s, confidence %d, sources %d; want Expired, none, 0", l.Status, conf(l), l.Sources)
	}
	if m := l.Feeds[0]; m.Listed || m.DelistedAt == nil || !m.DelistedAt.Equal(listT0.Add(24*time.Hour)) {
		t.Errorf("10.0.0.0/8 membership: %+v", m)
	}
	// Still listed by b (cumulative): Active, b's confidence alone.
	l = listed(t, s, "192.0.2.2")
	if l.Status != indicator.StatusActive || conf(l) != 40 || feedsOf(l)["a"] || !feedsOf(l)["b"] {
		t.Errorf("192.0.2.2: %+v, confidence %d", l, conf(l))
	}
	// Listed again: Active again, its first observation kept.
	c = ingestList(t, s, listRun("a", ModeSnapshot, 60, 2), list("192.0.2.1", "10.0.0.0/8"))
	if c.Updated != 1 || c.Delisted != 0 || c.Unchanged != 1 {
		t.Fatalf("relisting run: %+v", c)
	}
	l = listed(t, s, "10.0.0.0/8")
	if l.Status != indicator.StatusActive || conf(l) != 60 || l.Feeds[0].DelistedAt != nil || !l.Feeds[0].ObservedFirst.Equal(listT0) {
		t.Errorf("relisted: %+v", l)
	}
}

func TestListCumulativeNeverDelists(t *testing.T) {
	s := open(t)
	ingestList(t, s, listRun("c", ModeCumulative, 70, 0), list("192.0.2.1", "192.0.2.2"))
	c := ingestList(t, s, listRun("c", ModeCumulative, 70, 400), list("192.0.2.3"))
	if c.Delisted != 0 || c.Created != 1 {
		t.Fatalf("cumulative run: %+v", c)
	}
	for _, p := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		if l := listed(t, s, p); !feedsOf(l)["c"] || l.Status != indicator.StatusActive {
			t.Errorf("%s: %+v", p, l)
		}
	}
	// With an age_out, entries not given for that long age out.
	run := listRun("c", ModeCumulative, 70, 402)
	run.AgeOut = 7 * 24 * time.Hour
	c = ingestList(t, s, run, list("192.0.2.1"))
	if c.Delisted != 1 {
		t.Fatalf("age_out run: %+v, want 192.0.2.2 delisted", c)
	}
	if l := listed(t, s, "192.0.2.2"); l.Status != indicator.StatusExpired {
		t.Errorf("aged out: %s", l.Status)
	}
	if l := listed(t, s, "192.0.2.3"); l.Status != indicator.StatusActive {
		t.Errorf("given 2 days ago: %s", l.Status)
	}
}

func TestListConfidenceByHand(t *testing.T) {
	s := open(t)
	cases := []struct {
		confs []int
		want  int
	}{
		{[]int{50}, 50},
		{[]int{50, 50}, 75},          // 1 - .5*.5
		{[]int{30, 40, 50}, 79},      // 1 - .7*.6*.5 = .79
		{[]int{10, 10, 10}, 27},      // 1 - .729 = .271
		{[]int{100, 20}, 100},        // a certain feed
		{[]int{0}, 0},                // listed, no confidence
		{[]int{99, 99, 99, 99}, 100}, // 1 - 1e-8
		{[]int{50, 1}, 51},           // .505: half up
	}
	for i, tc := range cases {
		addr := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
		for j, c := range tc.confs {
			feed := string(rune('a'+i)) + string(rune('0'+j))
			ingestList(t, s, listRun(feed, ModeCumulative, c, 0), list(addr.String()))
		}
		var want float64 = 1
		for _, c := range tc.confs {
			want *= 1 - float64(c)/100
		}
		if int(math.Floor(100*(1-want)+0.5+1e-9)) != tc.want {
			t.Fatalf("case %v: the table is wrong", tc.confs)
		}
		if got := conf(listed(t, s, addr.String())); got != tc.want {
			t.Errorf("confidences %v: combined %d, want %d", tc.confs, got, tc.want)
		}
	}
	// A feed's new confidence is applied to everything it lists.
	ingestList(t, s, listRun("a0", ModeCumulative, 20, 1), list())
	if got := conf(listed(t, s, "192.0.2.1")); got != 20 {
		t.Errorf("after the feed's confidence changed to 20: %d", got)
	}
}

func TestListUnchangedRerunWritesNothing(t *testing.T) {
	s := open(t)
	e := func() *entries {
		l := list("192.0.2.1", "192.0.2.2", "192.0.2.0/24")
		l.list[0].LastSeen = listT0
		l.list[1].Attrs = []ListAttr{{Name: "Count", Value: indicator.NumberValue(3)}, {Name: "Tags", Value: indicator.ListValue([]string{"x", "y"})}}
		return l
	}
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), e())
	c := ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), e())
	if c.Unchanged != 3 || c.Updated != 0 || c.Created != 0 || c.Delisted != 0 {
		t.Fatalf("unchanged re-run: %+v", c)
	}
	changed := e()
	changed.list[1].Attrs[0].Value = indicator.NumberValue(4)
	changed.list = append(changed.list, changed.list[0]) // a duplicate: counted, the last wins
	c = ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), changed)
	if c.Unchanged != 2 || c.Updated != 1 || c.Duplicates != 1 {
		t.Fatalf("one changed: %+v", c)
	}
	l := listed(t, s, "192.0.2.2")
	if a := l.Feeds[0].Attrs; len(a) != 2 || a[0].Value.Number != 4 || a[1].Value.List[1] != "y" {
		t.Errorf("attributes: %+v", a)
	}
	if ls := listed(t, s, "192.0.2.1").Feeds[0].LastSeen; ls == nil || !ls.Equal(listT0) {
		t.Errorf("last seen: %v", ls)
	}
}

func TestListAllowlistAndPersonStatus(t *testing.T) {
	s := open(t)
	run := listRun("a", ModeSnapshot, 50, 0)
	run.Allowlist = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	c := ingestList(t, s, run, list("192.0.2.1", "192.0.2.128/25", "198.51.100.1"))
	if c.Whitelisted != 2 {
		t.Errorf("whitelisted %d, want 2", c.Whitelisted)
	}
	for p, want := range map[string]indicator.Status{"192.0.2.1": indicator.StatusWhitelisted,
		"192.0.2.128/25": indicator.StatusWhitelisted, "198.51.100.1": indicator.StatusActive} {
		if l := listed(t, s, p); l.Status != want {
			t.Errorf("%s: %s, want %s", p, l.Status, want)
		}
	}
	// Delisted: a person's (or the allow-list's) status stays.
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 1), list())
	if l := listed(t, s, "192.0.2.1"); l.Status != indicator.StatusWhitelisted {
		t.Errorf("delisted whitelisted: %s", l.Status)
	}
}

func TestListBadInput(t *testing.T) {
	s := open(t)
	for name, run := range map[string]ListRun{
		"no feed":    {Source: "x", Mode: ModeSnapshot},
		"mode":       {Feed: "x", Source: "x", Mode: "sometimes"},
		"confidence": {Feed: "x", Source: "x", Mode: ModeSnapshot, Confidence: 101},
	} {
		if _, err := s.IngestList(context.Background(), run, list()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	bad := &entries{list: []ListEntry{{Prefix: netip.MustParsePrefix("192.0.2.1/32")}, {}}}
	if _, err := s.IngestList(context.Background(), listRun("a", ModeSnapshot, 1, 0), bad); !errors.Is(err, ErrBadEntry) {
		t.Errorf("invalid prefix: %v", err)
	}
	if v, _ := s.DataVersion(context.Background()); v.Count != 0 {
		t.Errorf("a refused run stored %d indicators", v.Count)
	}
}

// writeSeclytics stores one Seclytics indicator as a run's Write does.
func writeSeclytics(t *testing.T, s *Store, addr string, status indicator.Status, expires time.Time) {
	t.Helper()
	st := &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(addr), LastSeenAt: listT0.Unix()}, Status: status,
		CreatedAt: listT0.Unix(), UpdatedAt: listT0.Unix(), ExpiresAt: expires.Unix(), Hash: 7}
	st.Has = st.Has.With(merge.LastSeenAt)
	commitRows(t, s, []*merge.Stored{st})
}

func TestListBesideSeclytics(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	day := 24 * time.Hour
	writeSeclytics(t, s, "192.0.2.1", indicator.StatusActive, listT0.Add(10*day))
	writeSeclytics(t, s, "192.0.2.2", indicator.StatusActive, listT0.Add(10*day))
	l := listed(t, s, "192.0.2.1")
	if conf(l) != SeclyticsConfidence || l.Sources != 1 || len(l.Feeds) != 1 || l.Feeds[0].Feed != "seclytics" || !l.Feeds[0].Listed {
		t.Fatalf("Seclytics alone: %+v", l)
	}
	if ls := l.Feeds[0].LastSeen; ls == nil || !ls.Equal(listT0) {
		t.Errorf("Seclytics' last seen: %v", ls)
	}
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.1"))
	// 1 - (1-.8)(1-.5) = .9
	if l := listed(t, s, "192.0.2.1"); conf(l) != 90 || l.Sources != 2 {
		t.Fatalf("Seclytics and a: confidence %d, sources %d", conf(l), l.Sources)
	}
	// Seclytics ages out: the listed one stays Active with a's
	// confidence, the other expires.
	n, err := s.ExpireDue(ctx, listT0.Add(11*day))
	if err != nil || n != 1 {
		t.Fatalf("expired %d (%v), want 1", n, err)
	}
	l = listed(t, s, "192.0.2.1")
	if l.Status != indicator.StatusActive || conf(l) != 50 || l.Sources != 1 || l.Feeds[0].Listed {
		t.Errorf("listed, Seclytics aged out: %+v confidence %d", l, conf(l))
	}
	if l := listed(t, s, "192.0.2.2"); l.Status != indicator.StatusExpired || l.Confidence != nil {
		t.Errorf("Seclytics alone aged out: %s, confidence %d", l.Status, conf(l))
	}
	// A Seclytics run whose lifecycle says Expired does not expire what a
	// list feed lists.
	writeSeclytics(t, s, "192.0.2.1", indicator.StatusExpired, listT0)
	if l := listed(t, s, "192.0.2.1"); l.Status != indicator.StatusActive || conf(l) != 50 {
		t.Errorf("Seclytics wrote Expired: %s, confidence %d", l.Status, conf(l))
	}
	// Seclytics lists it again: both count.
	writeSeclytics(t, s, "192.0.2.1", indicator.StatusActive, listT0.Add(20*day))
	if l := listed(t, s, "192.0.2.1"); conf(l) != 90 {
		t.Errorf("Seclytics again: confidence %d", conf(l))
	}
	// a delists it; Seclytics still lists it: Active, 80.
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 1), list())
	if l := listed(t, s, "192.0.2.1"); l.Status != indicator.StatusActive || conf(l) != 80 {
		t.Errorf("a delisted, Seclytics lists: %s, confidence %d", l.Status, conf(l))
	}
	// The Seclytics ingest's reads skip networks in its key ranges.
	ingestList(t, s, listRun("b", ModeSnapshot, 50, 1), list("192.0.2.0/24", "192.0.2.1"))
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var recs []*merge.Stored
	for _, a := range []string{"192.0.2.0", "192.0.2.1", "192.0.2.3"} {
		recs = append(recs, &merge.Stored{Record: merge.Record{Addr: netip.MustParseAddr(a)}, NewHash: 1})
	}
	if err := tx.Load(ctx, recs); err != nil {
		t.Fatalf("Seclytics load beside a network: %v", err)
	}
	if recs[0].Exists || !recs[1].Exists || recs[2].Exists {
		t.Errorf("loaded %v %v %v, want only 192.0.2.1", recs[0].Exists, recs[1].Exists, recs[2].Exists)
	}
}

// The expiry of rows a list feed still lists reads the partial index too.
func TestListedExpiryUsesIndex(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "SQLite's query plan")
	s := open(t)
	plan := queryPlan(t, s, listedDueSQL, 1, 1, 1)
	if got := strings.Join(plan, "; "); !strings.Contains(got, "indicators_expiry") {
		t.Fatalf("the listed expiry update does not use indicators_expiry: %s", got)
	}
}

func TestListFeedState(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, err := s.ListFeedState(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("never ran: %v", err)
	}
	run := listRun("a", ModeCumulative, 30, 0)
	run.Validators = ListValidators{ETag: `"x1"`, BodySHA256: "abc"}
	ingestList(t, s, run, list("192.0.2.1"))
	st, err := s.ListFeedState(ctx, "a")
	if err != nil || st.Source != "Src a" || st.Mode != ModeCumulative || st.Confidence != 30 || st.LastRunAt == nil ||
		!st.LastRunAt.Equal(listT0) || st.Validators != run.Validators {
		t.Fatalf("state %+v, %v", st, err)
	}
}

func TestListSearchFilters(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	writeSeclytics(t, s, "192.0.2.1", indicator.StatusActive, listT0.Add(1000*24*time.Hour))
	writeSeclytics(t, s, "192.0.2.4", indicator.StatusActive, listT0.Add(1000*24*time.Hour))
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.0/24"))
	ingestList(t, s, listRun("b", ModeSnapshot, 20, 0), list("192.0.2.1", "192.0.2.2"))
	// confidences: .1 → 1-.2*.5*.8 = 92; .2 → 1-.5*.8 = 60; .3 → 50; .4 → 80.
	search := func(q IndicatorQuery) []string {
		t.Helper()
		var got []string
		for {
			page, err := s.SearchIndicators(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			for _, ind := range page.Indicators {
				got = append(got, ind.Addr.String())
			}
			if page.Next == "" {
				return got
			}
			q.Cursor = page.Next
		}
	}
	eq := func(name string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	eq("feed a", search(IndicatorQuery{Feed: "a"}), "192.0.2.1", "192.0.2.2", "192.0.2.3")
	eq("feed b", search(IndicatorQuery{Feed: "b"}), "192.0.2.1", "192.0.2.2")
	eq("feed seclytics", search(IndicatorQuery{Feed: "seclytics"}), "192.0.2.1", "192.0.2.4")
	eq("min 2 sources", search(IndicatorQuery{MinSources: 2}), "192.0.2.1", "192.0.2.2")
	eq("min 3 sources", search(IndicatorQuery{MinSources: 3}), "192.0.2.1")
	seventy := 70
	eq("min confidence 70", search(IndicatorQuery{MinConfidence: &seventy}), "192.0.2.1", "192.0.2.4")
	eq("by confidence, pages of 1", search(IndicatorQuery{Sort: "-confidence", Limit: 1}), "192.0.2.1", "192.0.2.4", "192.0.2.2", "192.0.2.3")
	eq("by confidence ascending", search(IndicatorQuery{Sort: "confidence", Limit: 2}), "192.0.2.3", "192.0.2.2", "192.0.2.4", "192.0.2.1")

	page, err := s.SearchIndicators(ctx, IndicatorQuery{Q: "192.0.2.1"})
	if err != nil || len(page.Indicators) != 1 {
		t.Fatalf("one: %+v %v", page, err)
	}
	ind := page.Indicators[0]
	if ind.Confidence == nil || *ind.Confidence != 92 || strings.Join(ind.Sources, ",") != "Seclytics,Src a,Src b" ||
		ind.ListingSources() != 3 || !ind.ListedBy("b") {
		t.Errorf("read model: confidence %v, sources %v, feeds %+v", ind.Confidence, ind.Sources, ind.Feeds)
	}
	if _, err := s.SearchIndicators(ctx, IndicatorQuery{MinSources: -1}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("negative min sources: %v", err)
	}
	// A lookup names every feed with its dates, delisted ones too.
	ingestList(t, s, listRun("b", ModeSnapshot, 20, 1), list("192.0.2.2"))
	got, err := s.Lookup(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil || len(got.Feeds) != 3 || got.Feeds[0].Feed != "seclytics" || got.Feeds[0].LastSeen == nil ||
		!got.Feeds[1].Listed || got.Feeds[2].Feed != "b" || got.Feeds[2].Listed {
		t.Errorf("lookup feeds: %+v, %v", got.Feeds, err)
	}
}

// Uninstalling Seclytics with purge keeps what a list feed lists, or did,
// without Seclytics' columns, and deletes the rest. What it keeps changed:
// its updated_at moves, so a TAXII consumer polling with added_after gets
// it again, revoked if no feed lists it any more.
func TestListPurgeSeclyticsKeepsListed(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	writeSeclytics(t, s, "192.0.2.1", indicator.StatusActive, listT0.Add(1000*24*time.Hour))
	writeSeclytics(t, s, "192.0.2.2", indicator.StatusActive, listT0.Add(1000*24*time.Hour))
	writeSeclytics(t, s, "192.0.2.3", indicator.StatusActive, listT0.Add(1000*24*time.Hour))
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.1", "192.0.2.3"))
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 1), list("192.0.2.1"))
	look := func(ip string) indicator.Indicator {
		t.Helper()
		ind, err := s.Lookup(ctx, netip.MustParseAddr(ip))
		if err != nil {
			t.Fatal(err)
		}
		return ind
	}
	before := look("192.0.2.3").UpdatedAt
	start := time.Now().Truncate(time.Second)
	n, err := s.DeleteFeed(ctx, "seclytics", true)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	l := listed(t, s, "192.0.2.1")
	if l.Status != indicator.StatusActive || conf(l) != 50 || len(l.Feeds) != 1 || l.Feeds[0].Feed != "a" || look("192.0.2.1").UpdatedAt.Before(start) {
		t.Errorf("kept: %+v, confidence %d; want updated at the purge (%v)", l, conf(l), start)
	}
	if d := look("192.0.2.3"); d.Status != indicator.StatusExpired || d.UpdatedAt.Before(start) || !d.UpdatedAt.After(before) {
		t.Errorf("delisted, then purged of Seclytics: %s updated at %v (was %v); want Expired, updated at the purge", d.Status, d.UpdatedAt, before)
	}
	if _, err := s.ListedIndicator(ctx, netip.MustParsePrefix("192.0.2.2/32")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Seclytics alone: %v, want purged", err)
	}
}

// The comparison with the stored memberships reads them a page at a time:
// with pages of two, every case of the snapshot test still holds.
func TestListComparesAcrossPages(t *testing.T) {
	defer func(n int) { membershipPage = n }(membershipPage)
	membershipPage = 2
	TestListSnapshotDelists(t)
	TestListUnchangedRerunWritesNothing(t)
}

// A list run under its feed's lock needs two connections on PostgreSQL
// (the lock's and the run's): it completes with the smallest pool.
func TestListRunOnTheSmallestPool(t *testing.T) {
	if !pgtest.Wanted() {
		t.Skip("PostgreSQL only: its lock and its run each hold a connection")
	}
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t)+"&pool_max_conns=2")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lock, err := s.LockFeed(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for day, addr := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := s.IngestList(tctx, listRun("a", ModeSnapshot, 50, day), list(addr)); err != nil {
			t.Fatalf("run %d on a pool of two: %v", day+1, err)
		}
	}
}

// On PostgreSQL feed runs' writes are serialised: a list run waits while
// another run's transaction holds the write lock, then goes on.
func TestListRunWaitsForOtherWrites(t *testing.T) {
	if !pgtest.Wanted() {
		t.Skip("PostgreSQL only: SQLite has one writer")
	}
	s := open(t)
	ctx := context.Background()
	other, err := s.BeginIngest(ctx) // a Seclytics run in its merge
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := s.IngestList(wctx, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("list run beside another run's writes: %v, want it to wait", err)
	}
	if err := other.Rollback(); err != nil {
		t.Fatal(err)
	}
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.1"))
}

// With Networks, the search pages through hosts and networks in key order
// (a network right after its first address), in every sort.
func TestListSearchWithNetworks(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.0", "192.0.2.0/24", "192.0.2.0/25", "192.0.2.1", "2001:db8::/32"))
	ingestList(t, s, listRun("b", ModeSnapshot, 80, 0), list("192.0.2.0/25"))
	walkAll := func(q IndicatorQuery) []string {
		var got []string
		for {
			page, err := s.SearchIndicators(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			for _, ind := range page.Indicators {
				got = append(got, ind.Value())
			}
			if page.Next == "" {
				return got
			}
			q.Cursor = page.Next
		}
	}
	if got := strings.Join(walkAll(IndicatorQuery{Networks: true, Limit: 1}), " "); got != "192.0.2.0 192.0.2.0/24 192.0.2.0/25 192.0.2.1 2001:db8::/32" {
		t.Errorf("by value: %s", got)
	}
	if got := strings.Join(walkAll(IndicatorQuery{Networks: true, Limit: 2, Sort: "-value"}), " "); got != "2001:db8::/32 192.0.2.1 192.0.2.0/25 192.0.2.0/24 192.0.2.0" {
		t.Errorf("by value, descending: %s", got)
	}
	if got := strings.Join(walkAll(IndicatorQuery{Networks: true, Limit: 1, Sort: "-confidence"}), " "); got != "192.0.2.0/25 2001:db8::/32 192.0.2.1 192.0.2.0/24 192.0.2.0" { // ties: by address, descending too
		t.Errorf("by confidence: %s", got)
	}
	if got := strings.Join(walkAll(IndicatorQuery{Networks: true, CIDR: netip.MustParsePrefix("192.0.2.0/24")}), " "); got != "192.0.2.0 192.0.2.0/24 192.0.2.0/25 192.0.2.1" {
		t.Errorf("in 192.0.2.0/24: %s", got)
	}
	if got := strings.Join(walkAll(IndicatorQuery{}), " "); got != "192.0.2.0 192.0.2.1" {
		t.Errorf("hosts only: %s", got)
	}
}

// The lookup index reads the networks through their partial index, not
// the whole table.
func TestNetworksUseTheirIndex(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "SQLite's query plan")
	s := open(t)
	plan := strings.Join(queryPlan(t, s, selectNetworks), "; ")
	if !strings.Contains(plan, "indicators_networks") {
		t.Fatalf("the networks are not read through indicators_networks: %s", plan)
	}
}

// The dashboard counts an indicator as confirmed while Seclytics and at
// least one list feed list it, and says how many list feeds exist.
func TestDashboardConfirmedByListFeeds(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	day := 24 * time.Hour
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		writeSeclytics(t, s, ip, indicator.StatusActive, listT0.Add(10*day))
	}
	d, err := s.DashboardAggregates(ctx)
	if err != nil || d.Confirmed != 0 || d.ListFeeds != 0 {
		t.Fatalf("Seclytics alone: confirmed %d, list feeds %d, %v; want 0, 0", d.Confirmed, d.ListFeeds, err)
	}
	// a lists .1 and .2 and one address Seclytics does not; b lists .1.
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 0), list("192.0.2.1", "192.0.2.2", "198.51.100.9"))
	ingestList(t, s, listRun("b", ModeSnapshot, 50, 0), list("192.0.2.1"))
	if d, err = s.DashboardAggregates(ctx); err != nil || d.Confirmed != 2 || d.ListFeeds != 2 {
		t.Fatalf("two list feeds: confirmed %d, list feeds %d, %v; want 2 (192.0.2.1 and .2), 2", d.Confirmed, d.ListFeeds, err)
	}
	// a's next snapshot delists .2: only .1 stays confirmed (by b).
	ingestList(t, s, listRun("a", ModeSnapshot, 50, 1), list("198.51.100.9"))
	if d, err = s.DashboardAggregates(ctx); err != nil || d.Confirmed != 1 {
		t.Fatalf("after a delisted .1 and .2: confirmed %d, %v; want 1 (192.0.2.1, by b)", d.Confirmed, err)
	}
}

// TestListFeedCounter: the count of what a list feed lists, shown on every
// view of the feed lists, is kept by each run and stays equal to counting
// the feed's listed memberships: after adding, after a snapshot delists,
// after a cumulative feed ages entries out, after relisting, and not moved
// by a failed run.
func TestListFeedCounter(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	check := func(when, feed string, want int64) {
		t.Helper()
		sum, err := s.FeedSummary(ctx, feed)
		if err != nil {
			t.Fatal(err)
		}
		var counted int64
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM memberships WHERE feed = ? AND listed = 1`, feed).Scan(&counted); err != nil {
			t.Fatal(err)
		}
		if sum.Indicators != want || counted != want {
			t.Errorf("%s: feed %s shows %d indicators (memberships say %d), want %d", when, feed, sum.Indicators, counted, want)
		}
	}
	check("never run", "a", 0)
	ingestList(t, s, listRun("a", ModeSnapshot, 60, 0), list("192.0.2.1", "192.0.2.2", "10.0.0.0/8", "192.0.2.1"))
	ingestList(t, s, listRun("b", ModeCumulative, 40, 0), list("192.0.2.2", "192.0.2.3"))
	check("first runs (a repeated entry once)", "a", 3)
	check("first runs", "b", 2)
	broken := list("192.0.2.9")
	broken.err = errors.New("connection reset")
	if _, err := s.IngestList(ctx, listRun("a", ModeSnapshot, 60, 1), broken); err == nil {
		t.Fatal("a broken stream was ingested")
	}
	check("a failed run", "a", 3)
	ingestList(t, s, listRun("a", ModeSnapshot, 60, 1), list("192.0.2.1", "198.51.100.0/24"))
	check("snapshot: two delisted, one new", "a", 2)
	ingestList(t, s, listRun("b", ModeCumulative, 40, 1), list("192.0.2.4"))
	check("cumulative: absence delists nothing", "b", 3)
	run := listRun("b", ModeCumulative, 40, 30)
	run.AgeOut = 7 * 24 * time.Hour
	ingestList(t, s, run, list("192.0.2.4"))
	check("cumulative with age_out: the old entries aged out", "b", 1)
	ingestList(t, s, listRun("a", ModeSnapshot, 60, 2), list("192.0.2.1", "198.51.100.0/24", "10.0.0.0/8"))
	check("snapshot: relisted", "a", 3)
	ingestList(t, s, listRun("a", ModeSnapshot, 60, 3), list())
	check("snapshot: an empty list", "a", 0)
}

// TestStagedHashIsFNV: the hash a run compares with the stored one must
// stay hash/fnv's FNV-1a, which earlier versions stored: any other would
// rewrite every membership of every feed on the first run after an
// upgrade.
func TestStagedHashIsFNV(t *testing.T) {
	for _, v := range [][]byte{nil, {0}, {0x80, 0x01, 0x02, 0x00}, []byte("a longer staged value with attributes")} {
		h := fnv.New64a()
		h.Write(v)
		if got, want := stagedHash(v), int64(h.Sum64()); got != want {
			t.Errorf("stagedHash(%x) = %d, want %d", v, got, want)
		}
	}
}

// A list run's updates (and its look-up of the indicators it lists anew)
// read their staging table in key order and look each row up in the
// stored table: without statistics on the temporary tables,
// SQLite would otherwise scan the feed's million memberships, or every
// indicator, to update the few a run changes.
func TestListUpdatesReadTheStagingTables(t *testing.T) {
	pgtest.SkipUnlessSQLite(t, "SQLite's query plan")
	s := open(t)
	ctx := context.Background()
	lt, err := s.beginList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lt.close()
	for _, c := range []struct{ name, query, want string }{
		{"update memberships", updateMembershipsSQL(s.d), "SCAN s; SEARCH memberships USING PRIMARY KEY (feed=? AND ip=?)"},
		{"recompute", recomputeSQL(s.d), "SCAN a; SEARCH indicators USING PRIMARY KEY (ip=?)"},
		{"find new listings", findNewListingsSQL(s.d), "SCAN s; SEARCH i USING PRIMARY KEY (ip=?)"},
	} {
		rows, err := lt.tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.query, 1, "feed")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); got != c.want {
			t.Errorf("%s: plan %q, want %q", c.name, got, c.want)
		}
	}
}
