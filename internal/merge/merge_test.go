package merge

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"forewarn/internal/config"
	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
	"forewarn/internal/stage"

	"github.com/google/go-cmp/cmp"
)

const none = prediction.NoTime

func mkRow(ip string, lsa int64, imp float64, cluster string, cats ...string) *prediction.Row {
	r := &prediction.Row{
		Addr: netip.MustParseAddr(ip), LastSeenAt: lsa, DetectedAt: none, PredictedAt: none,
		Importance: imp, HasImportance: imp >= 0, Cluster: []byte(cluster),
	}
	for _, c := range cats {
		r.DetectedCategories = append(r.DetectedCategories, []byte(c))
	}
	return r
}

// foldRun stages rows through the real sorter and folds them per IP, as a
// run does.
func foldRun(t *testing.T, sel Selection, rows ...*prediction.Row) map[netip.Addr]Record {
	t.Helper()
	s := stage.New(t.TempDir(), KeyLen, 0)
	defer s.Close()
	m := NewMapper(sel)
	for i, r := range rows {
		k, v := m.Map(r, uint64(i))
		if err := s.Add(k, v); err != nil {
			t.Fatal(err)
		}
	}
	it, err := s.Iterator()
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.Addr]Record{}
	var in Interner
	var row Record
	for it.Next() {
		if err := Decode(it.Key(), it.Value(), &row, &in); err != nil {
			t.Fatal(err)
		}
		acc := out[row.Addr]
		Fold(&acc, &row)
		acc.DetectedCategories = slices.Clone(acc.DetectedCategories)
		out[row.Addr] = acc
	}
	for a, acc := range out {
		Finish(&acc)
		out[a] = acc
	}
	return out
}

var all = NewSelection(config.ContextNames, true)

func TestFoldWithinRun(t *testing.T) {
	day := int64(86400)
	t.Run("newest last seen wins, whatever the file order", func(t *testing.T) {
		got := foldRun(t, all,
			mkRow("1.2.3.4", 5*day, 10, "new", "spam"),
			mkRow("1.2.3.4", 3*day, 90, "old", "malicious"),
		)[netip.MustParseAddr("1.2.3.4")]
		if got.Cluster != "new" || got.Importance != 10 || got.LastSeenAt != 5*day || got.Normalized != indicator.Low {
			t.Errorf("got %+v", got)
		}
		if diff := cmp.Diff([]string{"malicious", "spam"}, got.DetectedCategories); diff != "" {
			t.Errorf("lists must be unioned: %s", diff)
		}
	})
	t.Run("tie on last seen goes to higher importance, then the later row", func(t *testing.T) {
		got := foldRun(t, all,
			mkRow("1.2.3.4", day, 80, "high"),
			mkRow("1.2.3.4", day, 50, "low"),
		)[netip.MustParseAddr("1.2.3.4")]
		if got.Cluster != "high" {
			t.Errorf("higher importance should win a tie: %q", got.Cluster)
		}
		got = foldRun(t, all,
			mkRow("1.2.3.4", day, 50, "first"),
			mkRow("1.2.3.4", day, 50, "second"),
		)[netip.MustParseAddr("1.2.3.4")]
		if got.Cluster != "second" {
			t.Errorf("later row should win a full tie: %q", got.Cluster)
		}
	})
	t.Run("an attribute comes from the newest row that has it", func(t *testing.T) {
		a := mkRow("1.2.3.4", 3*day, 10, "x")
		b := mkRow("1.2.3.4", 5*day, 10, "") // newest, no cluster
		c := mkRow("1.2.3.4", 4*day, 10, "y")
		got := foldRun(t, all, a, b, c)[netip.MustParseAddr("1.2.3.4")]
		if got.Cluster != "y" || got.LastSeenAt != 5*day {
			t.Errorf("got cluster %q last seen %d", got.Cluster, got.LastSeenAt)
		}
	})
	t.Run("only selected context is staged", func(t *testing.T) {
		sel := NewSelection([]string{indicator.AttrLastSeenAt}, true)
		got := foldRun(t, sel, mkRow("2001:db8::1", day, 75, "c", "spam"))[netip.MustParseAddr("2001:db8::1")]
		want := Set(0).With(LastSeenAt).With(NormalizedImportance)
		if got.Has != want || got.Normalized != indicator.High || got.Cluster != "" {
			t.Errorf("has %b want %b: %+v", got.Has, want, got)
		}
	})
}

func TestCodecRoundTrip(t *testing.T) {
	r := &prediction.Row{
		Addr: netip.MustParseAddr("198.51.100.7"), PredictedAt: -5, DetectedAt: 1e9, LastSeenAt: 2e9,
		PredictedNetblock: netip.MustParsePrefix("198.51.100.0/24"), PredictedCategory: []byte("spam"),
		Cluster: []byte("abc"), Importance: 85.5, HasImportance: true,
		DetectedBy: [][]byte{[]byte("b"), []byte("a")}, DetectedIdentifiers: [][]byte{[]byte("id")},
		DetectedCategories: [][]byte{[]byte("botnet")},
	}
	k, v := NewMapper(all).Map(r, 9)
	var got Record
	if err := Decode(k, v, &got, nil); err != nil {
		t.Fatal(err)
	}
	want := Record{
		Addr: r.Addr, Has: Set(1<<NumSlots - 1), PredictedAt: -5, DetectedAt: 1e9, LastSeenAt: 2e9,
		PredictedNetblock: r.PredictedNetblock, PredictedCategory: "spam", Cluster: "abc", Importance: 85.5,
		Normalized: "High", DetectedBy: []string{"a", "b"}, DetectedIdentifiers: []string{"id"}, DetectedCategories: []string{"botnet"},
		LookupNetblock: r.PredictedNetblock,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Error(diff)
	}
	if err := Decode(k, v[:len(v)-1], &got, nil); err == nil {
		t.Error("truncated value decoded without error")
	}
	if !bytes.Equal(k[:16], netip.MustParseAddr("::ffff:198.51.100.7").AsSlice()) {
		t.Error("key does not start with the 16-byte address")
	}
}

func TestApplyAcrossRuns(t *testing.T) {
	var st Stored
	var c Counts
	in := Record{Addr: netip.MustParseAddr("1.2.3.4")}
	in.Has = in.Has.With(LastSeenAt).With(Importance).With(DetectedCategories)
	in.LastSeenAt, in.Importance, in.DetectedCategories = 100, 80, []string{"spam"}

	if !Apply(&st, &in, 1, 1000, &c) {
		t.Fatal("a new indicator must be written")
	}
	if st.Status != indicator.StatusActive || c.IndicatorsCreated != 1 || c.AttributesCreated != 3 {
		t.Fatalf("first run: %+v %+v", st, c)
	}

	// The same values again: nothing changes.
	c = Counts{}
	if Apply(&st, &in, 2, 2000, &c) || c.IndicatorsUnchanged != 1 || c.AttributesCreated+c.AttributesUpdated != 0 || st.UpdatedAt != 1000 {
		t.Fatalf("re-run changed something: %+v %+v", st, c)
	}

	// A newer last seen is updated in place; a new category is added.
	in.LastSeenAt, in.DetectedCategories = 200, []string{"botnet", "spam"}
	c = Counts{}
	if !Apply(&st, &in, 3, 3000, &c) {
		t.Fatal("change not written")
	}
	if st.LastSeenAt != 200 || st.Created[LastSeenAt] != 1 || st.Updated[LastSeenAt] != 3 || st.Updated[Importance] != 1 {
		t.Errorf("in-place update: %+v", st)
	}
	if diff := cmp.Diff([]string{"botnet", "spam"}, st.DetectedCategories); diff != "" {
		t.Error(diff)
	}
	if c != (Counts{IndicatorsUpdated: 1, AttributesCreated: 1, AttributesUpdated: 1}) || st.UpdatedAt != 3000 {
		t.Errorf("counts %+v updated_at %d", c, st.UpdatedAt)
	}

	// A run without some context deletes nothing.
	c = Counts{}
	if Apply(&st, &Record{Addr: in.Addr}, 4, 4000, &c) || !st.Has.Has(Importance) {
		t.Error("an empty record removed or changed something")
	}

	// Statuses a person set survive; Expired becomes Active.
	for from, want := range map[indicator.Status]indicator.Status{
		indicator.StatusWhitelisted: indicator.StatusWhitelisted,
		indicator.StatusReview:      indicator.StatusReview,
		indicator.StatusExpired:     indicator.StatusActive,
	} {
		st.Status = from
		changed := Apply(&st, &in, 5, 5000, &Counts{})
		if st.Status != want || changed != (from != want) {
			t.Errorf("%s became %s (changed %v), want %s", from, st.Status, changed, want)
		}
	}
}

func TestHashSeesEveryValue(t *testing.T) {
	base := Record{Addr: netip.MustParseAddr("1.2.3.4")}
	base.Has = base.Has.With(Cluster).With(DetectedBy).With(Importance)
	base.Cluster, base.DetectedBy, base.Importance = "c", []string{"a", "b"}, 80
	h := base.Hash()
	other := base
	other.Addr = netip.MustParseAddr("5.6.7.8")
	if other.Hash() != h {
		t.Error("the hash depends on the address")
	}
	for name, change := range map[string]func(r *Record){
		"cluster":         func(r *Record) { r.Cluster = "d" },
		"list":            func(r *Record) { r.DetectedBy = []string{"a", "c"} },
		"list split":      func(r *Record) { r.DetectedBy = []string{"ab"} },
		"importance":      func(r *Record) { r.Importance = 80.5 },
		"selection":       func(r *Record) { r.Has = r.Has.With(LastSeenAt) },
		"lookup netblock": func(r *Record) { r.LookupNetblock = netip.MustParsePrefix("1.2.3.0/24") },
	} {
		r := base
		r.DetectedBy = slices.Clone(base.DetectedBy)
		change(&r)
		if r.Hash() == h {
			t.Errorf("changing %s keeps the hash", name)
		}
	}
	a, b := base, base
	a.LookupNetblock, b.LookupNetblock = netip.MustParsePrefix("1.2.3.0/24"), netip.MustParsePrefix("1.2.0.0/16")
	if a.Hash() == b.Hash() {
		t.Error("two lookup netblocks hash equal")
	}
	b.LookupNetblock = netip.MustParsePrefix("::ffff:1.2.3.0/120")
	if a.Hash() == b.Hash() {
		t.Error("an IPv4 netblock and its IPv4-mapped IPv6 form hash equal")
	}
}

// TestLookupNetblockIgnoresTheSelection: the netblock is kept for lookups
// under a selection without Predicted Netblock (the default context), is
// never an attribute, and comes from the newest row that has one.
func TestLookupNetblockIgnoresTheSelection(t *testing.T) {
	day := int64(86400)
	def := NewSelection(config.Default().Context, false)
	withNB := func(r *prediction.Row, p string) *prediction.Row {
		r.PredictedNetblock = netip.MustParsePrefix(p)
		return r
	}
	for name, sel := range map[string]Selection{"default context": def, "all": all, "nothing": NewSelection(nil, false)} {
		t.Run(name, func(t *testing.T) {
			got := foldRun(t, sel,
				withNB(mkRow("198.51.100.7", 5*day, 80, "c", "spam"), "198.51.100.0/24"),
				withNB(mkRow("198.51.100.7", 3*day, 80, "c", "spam"), "198.51.0.0/16"), // older
				mkRow("198.51.100.7", 6*day, 80, "c", "spam"),                          // newest, none
				withNB(mkRow("2001:db8::1", day, 80, "c"), "2001:db8::/48"),
				mkRow("203.0.113.1", day, 80, "c"),
			)
			for ip, want := range map[string]string{"198.51.100.7": "198.51.100.0/24", "2001:db8::1": "2001:db8::/48", "203.0.113.1": "invalid Prefix"} {
				r := got[netip.MustParseAddr(ip)]
				if r.LookupNetblock.String() != want {
					t.Errorf("%s: lookup netblock %s, want %s", ip, r.LookupNetblock, want)
				}
				if r.Has.Has(PredictedNetblock) != (sel == all && want != "invalid Prefix") {
					t.Errorf("%s: Predicted Netblock attribute present %v under %s", ip, r.Has.Has(PredictedNetblock), name)
				}
			}
		})
	}
	t.Run("staged without the attribute, it decodes and truncation is caught", func(t *testing.T) {
		k, v := NewMapper(def).Map(withNB(mkRow("10.1.2.3", day, 10, ""), "10.0.0.0/8"), 1)
		var r Record
		if err := Decode(k, v, &r, nil); err != nil {
			t.Fatal(err)
		}
		if r.LookupNetblock != netip.MustParsePrefix("10.0.0.0/8") || r.Has.Has(PredictedNetblock) {
			t.Errorf("decoded %v, has %b", r.LookupNetblock, r.Has)
		}
		if err := Decode(k, v[:len(v)-1], &r, nil); err == nil {
			t.Error("truncated lookup netblock decoded without error")
		}
	})
}

// TestApplyLookupNetblock: a new netblock is written but counted as no
// attribute change; a run without one keeps the stored one.
func TestApplyLookupNetblock(t *testing.T) {
	in := Record{Addr: netip.MustParseAddr("1.2.3.4"), LookupNetblock: netip.MustParsePrefix("1.2.3.0/24")}
	in.Has = in.Has.With(Importance)
	in.Importance = 80
	var st Stored
	var c Counts
	if !Apply(&st, &in, 1, 1000, &c) || st.LookupNetblock != in.LookupNetblock {
		t.Fatalf("new indicator: %+v", st)
	}
	c = Counts{}
	if Apply(&st, &in, 2, 2000, &c) || c.IndicatorsUnchanged != 1 {
		t.Fatalf("same netblock again: %+v", c)
	}
	in.LookupNetblock = netip.MustParsePrefix("1.2.0.0/16")
	c = Counts{}
	if !Apply(&st, &in, 3, 3000, &c) {
		t.Fatal("a new netblock must be written")
	}
	if st.LookupNetblock != in.LookupNetblock || c != (Counts{IndicatorsUnchanged: 1}) || st.UpdatedAt != 1000 || st.Has.Has(PredictedNetblock) {
		t.Errorf("new netblock: %+v counts %+v", st, c)
	}
	c = Counts{}
	if Apply(&st, &Record{Addr: in.Addr}, 4, 4000, &c) || st.LookupNetblock != in.LookupNetblock {
		t.Errorf("a run without a netblock removed it: %v", st.LookupNetblock)
	}
}

// TestListCapAcrossRuns: a stored list at the cap that gains values keeps
// every value of the newer run and drops stored ones, and counts the cut.
func TestListCapAcrossRuns(t *testing.T) {
	var st Stored
	var c Counts
	in := Record{Addr: netip.MustParseAddr("1.2.3.4")}
	in.Has = in.Has.With(DetectedIdentifiers)
	for i := range MaxListValues {
		in.DetectedIdentifiers = append(in.DetectedIdentifiers, fmt.Sprintf("old%04d", i))
	}
	Apply(&st, &in, 1, 1000, &c)
	if len(st.DetectedIdentifiers) != MaxListValues || c.ListsCapped != 0 {
		t.Fatalf("first run kept %d values, capped %d", len(st.DetectedIdentifiers), c.ListsCapped)
	}
	in.DetectedIdentifiers = []string{"new1", "new2"}
	if !Apply(&st, &in, 2, 2000, &c) {
		t.Fatal("new values not written")
	}
	l := st.DetectedIdentifiers
	if len(l) != MaxListValues || !slices.Contains(l, "new1") || !slices.Contains(l, "new2") || c.ListsCapped != 1 || !slices.IsSorted(l) {
		t.Errorf("kept %d values (new ones kept: %v %v, sorted %v), capped %d", len(l),
			slices.Contains(l, "new1"), slices.Contains(l, "new2"), slices.IsSorted(l), c.ListsCapped)
	}
}

// TestFinishKeepsTheNewest: folding more than MaxListValues values keeps
// the last ones folded, sorted and without duplicates.
func TestFinishKeepsTheNewest(t *testing.T) {
	var acc, row Record
	row.Has = row.Has.With(DetectedBy)
	cut := false
	for i := range 3 * compactAt {
		row.DetectedBy = []string{fmt.Sprintf("v%05d", i), "always"}
		cut = Fold(&acc, &row) || cut
	}
	cut = Finish(&acc) || cut
	l := acc.DetectedBy
	if !cut || len(l) != MaxListValues || !slices.IsSorted(l) || !slices.Contains(l, "always") ||
		!slices.Contains(l, fmt.Sprintf("v%05d", 3*compactAt-1)) || slices.Contains(l, fmt.Sprintf("v%05d", 3*compactAt-MaxListValues)) {
		t.Errorf("cut %v, kept %d values, sorted %v: %.5q…", cut, len(l), slices.IsSorted(l), l)
	}
}
