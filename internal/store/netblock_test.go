package store

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestEachNetblockMember: the lookup netblock round-trips for both families
// apart from the Predicted Netblock attribute, and only indicators with one
// are streamed, with their importance, categories and cluster.
func TestEachNetblockMember(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	v4 := stored("198.51.100.7", indicator.StatusActive)
	v4.LookupNetblock = netip.MustParsePrefix("198.51.100.0/24")
	v4.Has = v4.Has.With(merge.DetectedCategories).With(merge.PredictedCategory)
	v4.DetectedCategories, v4.PredictedCategory = []string{"botnet", "malicious"}, "spam"
	v6 := stored("2001:db8::1", indicator.StatusWhitelisted)
	v6.LookupNetblock = netip.MustParsePrefix("2001:db8::/32")
	v6.Has &^= 1 << merge.Importance
	v6.Cluster = ""
	v6.Has &^= 1 << merge.Cluster
	mapped := stored("10.0.0.1", indicator.StatusActive)
	mapped.LookupNetblock = netip.MustParsePrefix("10.0.0.0/8")
	none := stored("192.0.2.1", indicator.StatusActive)
	commitRows(t, s, []*merge.Stored{v4, v6, mapped, none})

	for _, want := range []*merge.Stored{v4, v6, mapped, none} {
		got, err := s.LookupStored(ctx, want.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if got.LookupNetblock != want.LookupNetblock || got.PredictedNetblock != want.PredictedNetblock {
			t.Errorf("%s: lookup netblock %v (attribute %v), want %v (%v)", want.Addr, got.LookupNetblock,
				got.PredictedNetblock, want.LookupNetblock, want.PredictedNetblock)
		}
	}

	type member struct {
		Addr, Netblock, Status, Cluster string
		Importance                      float64
		HasImportance                   bool
		Categories                      []string
	}
	var got []member
	if err := s.EachNetblockMember(ctx, func(m *NetblockMember) error {
		got = append(got, member{m.Addr.String(), m.Netblock.String(), string(m.Status), m.Cluster,
			m.Importance, m.HasImportance, slices.Clone(m.Categories)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []member{
		{"10.0.0.1", "10.0.0.0/8", "Active", "c1", 85.5, true, nil},
		{"198.51.100.7", "198.51.100.0/24", "Active", "c1", 85.5, true, []string{"botnet", "malicious", "spam"}},
		{"2001:db8::1", "2001:db8::/32", "Whitelisted", "", 0, false, nil},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}

	// Restricted to some netblocks: only their members.
	for _, tc := range []struct {
		netblocks []string
		want      []string
	}{
		{[]string{"198.51.100.0/24", "2001:db8::/32", "10.0.0.0/9", "198.51.0.0/16"}, []string{"198.51.100.7", "2001:db8::1"}},
		{[]string{"10.0.0.0/8"}, []string{"10.0.0.1"}},
		{nil, nil},
	} {
		var nbs []netip.Prefix
		for _, p := range tc.netblocks {
			nbs = append(nbs, netip.MustParsePrefix(p))
		}
		var addrs []string
		if err := s.EachNetblockMemberOf(ctx, nbs, func(m *NetblockMember) error {
			addrs = append(addrs, m.Addr.String())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, addrs); diff != "" {
			t.Errorf("members of %v (-want +got):\n%s", tc.netblocks, diff)
		}
	}
}

func TestNetblockBlobRoundTrip(t *testing.T) {
	for _, p := range []string{"0.0.0.0/0", "1.2.3.4/32", "10.0.0.0/8", "::/0", "2001:db8::/48", "::fffe:0:0/95", "fe80::1/128"} {
		want := netip.MustParsePrefix(p)
		got, err := parseNetblock(netblockBlob(want).([]byte))
		if err != nil || got != want {
			t.Errorf("%s: round trip gave %v, %v", p, got, err)
		}
	}
	if _, err := parseNetblock(make([]byte, 16)); err == nil {
		t.Error("a short netblock parsed")
	}
	if netblockBlob(netip.Prefix{}) != nil {
		t.Error("an invalid prefix is not stored as NULL")
	}
}

// TestSnapshotSeesOneState: reads through a snapshot keep seeing the state
// of its first read while a later commit is visible to the store's reads.
func TestSnapshotSeesOneState(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	a := stored("198.51.100.7", indicator.StatusActive)
	a.LookupNetblock = netip.MustParsePrefix("198.51.100.0/24")
	commitRows(t, s, []*merge.Stored{a})
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	members := func(each func(context.Context, func(*NetblockMember) error) error) int {
		n := 0
		if err := each(ctx, func(*NetblockMember) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := members(sn.EachNetblockMember); n != 1 {
		t.Fatalf("snapshot: %d members", n)
	}
	b := stored("198.51.100.8", indicator.StatusActive)
	b.LookupNetblock = a.LookupNetblock
	commitRows(t, s, []*merge.Stored{b})
	if n := members(sn.EachNetblockMember); n != 1 {
		t.Errorf("snapshot saw a later commit: %d members", n)
	}
	if _, err := sn.Lookup(ctx, b.Addr); !errors.Is(err, ErrNotFound) {
		t.Errorf("snapshot lookup of a later indicator: %v", err)
	}
	if ind, err := sn.Lookup(ctx, a.Addr); err != nil || ind.Addr.String() != "198.51.100.7" {
		t.Errorf("snapshot lookup: %+v %v", ind, err)
	}
	if n := members(s.EachNetblockMember); n != 2 {
		t.Errorf("store: %d members after the commit", n)
	}
	if err := sn.Close(); err != nil || sn.Close() != nil {
		t.Errorf("close: %v", err)
	}
}

// TestNetblockMembersOfNested: members of nested and overlapping netblocks
// asked together come once each, in address order, and a member of a
// netblock that was not asked is left out even inside the range of one
// that was.
func TestNetblockMembersOfNested(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	var rows []*merge.Stored
	for _, m := range [][2]string{
		{"198.51.7.2", "198.51.0.0/16"},
		{"198.51.100.7", "198.51.100.0/24"},
		{"198.51.100.9", "198.51.100.0/24"},
		{"198.51.100.200", "198.51.100.128/25"},
		{"198.51.101.5", "198.51.101.0/24"},
		{"2001:db8:1::1", "2001:db8:1::/48"},
		{"2001:db8:2::1", "2001:db8::/32"},
	} {
		r := stored(m[0], indicator.StatusActive)
		r.LookupNetblock = netip.MustParsePrefix(m[1])
		rows = append(rows, r)
	}
	commitRows(t, s, rows)
	for _, tc := range []struct {
		netblocks []string
		want      []string
	}{
		// Every netblock that can hold 198.51.100.9 (as lookup.Scoped
		// asks), in no order, with duplicates.
		{[]string{"198.51.100.9/32", "198.51.100.0/24", "198.51.0.0/16", "198.51.100.0/25", "198.51.0.0/16", "198.0.0.0/8"},
			[]string{"198.51.7.2", "198.51.100.7", "198.51.100.9"}},
		{[]string{"198.51.100.128/25", "2001:db8::/32", "198.51.101.0/24", "2001:db8:1::/48"},
			[]string{"198.51.100.200", "198.51.101.5", "2001:db8:1::1", "2001:db8:2::1"}},
		// An IPv4-mapped prefix is its IPv4 netblock.
		{[]string{"::ffff:198.51.101.0/120"}, []string{"198.51.101.5"}},
		{[]string{"198.51.102.0/24", "2001:db8:3::/48"}, nil},
	} {
		var nbs []netip.Prefix
		for _, p := range tc.netblocks {
			nbs = append(nbs, netip.MustParsePrefix(p))
		}
		var addrs []string
		if err := s.EachNetblockMemberOf(ctx, nbs, func(m *NetblockMember) error {
			addrs = append(addrs, m.Addr.String())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, addrs); diff != "" {
			t.Errorf("members of %v (-want +got):\n%s", tc.netblocks, diff)
		}
	}
	if err := s.EachNetblockMemberOf(ctx, []netip.Prefix{{}}, func(*NetblockMember) error { return nil }); err == nil {
		t.Error("an invalid netblock was read")
	}
}

// TestNetblockMembersOfPlan: reading the members of a netblock searches
// the key range of its addresses on both backends, never the whole table
// (which made `forewarn lookup` take 1.6 s at 5M rows). The store holds
// 100,000 rows so that PostgreSQL's planner, with statistics, would pick a
// sequential scan if the query allowed no range.
func TestNetblockMembersOfPlan(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	// 100,000 IPv4 indicators over the whole IPv4 space (steps of 42,949),
	// each in its /24: a /8 holds about 400.
	fill := `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
	INSERT INTO indicators (ip, status, created_at, updated_at, s_lookup_netblock)
	SELECT unhex(printf('00000000000000000000ffff%08x', i * 42949)), 'Active', 0, 0,
		unhex(printf('00000000000000000000ffff%06x0078', (i * 42949) / 256)) FROM n`
	if s.d == postgresDialect {
		fill = `INSERT INTO indicators (ip, status, created_at, updated_at, s_lookup_netblock)
		SELECT decode('00000000000000000000ffff' || lpad(to_hex(i * 42949), 8, '0'), 'hex'), 'Active', 0, 0,
			decode('00000000000000000000ffff' || lpad(to_hex((i * 42949) / 256), 6, '0') || '0078', 'hex')
		FROM generate_series(0::bigint, 99999) AS i`
	}
	if _, err := s.w.ExecContext(ctx, fill); err != nil {
		t.Fatal(err)
	}
	if s.d == postgresDialect {
		if _, err := s.w.ExecContext(ctx, "ANALYZE indicators"); err != nil {
			t.Fatal(err)
		}
	}
	// Row 40,000, 102.101.253.64, is the only member of 102.101.253.0/24,
	// and no other netblock contains it.
	a := netip.MustParseAddr("102.101.253.64")
	var nbs []netip.Prefix
	for bits := 32; bits >= indicator.MinNetblockBits4; bits-- {
		nbs = append(nbs, netip.PrefixFrom(a, bits).Masked())
	}
	n := 0
	if err := s.EachNetblockMemberOf(ctx, nbs, func(m *NetblockMember) error {
		if m.Addr != a || m.Netblock != netip.MustParsePrefix("102.101.253.0/24") {
			t.Errorf("member %s of %s", m.Addr, m.Netblock)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d members of the netblocks containing %s, want 1", n, a)
	}

	ranges, err := netblockRanges(nbs)
	if err != nil || len(ranges) != 1 {
		t.Fatalf("%d ranges, %v; want one", len(ranges), err)
	}
	for _, r := range []netblockRange{ranges[0], {lo: ranges[0].lo, hi: ranges[0].hi, blobs: ranges[0].blobs[:1]}} {
		args := append([]any{r.lo, r.hi}, r.blobs...)
		plan := explainPlan(t, s, netblockMembersQuery(len(r.blobs)), args...)
		text := strings.Join(plan, "\n")
		ok := strings.Contains(text, "SEARCH indicators USING PRIMARY KEY (ip>? AND ip<?)")
		if s.d == postgresDialect {
			ok = strings.Contains(text, "Index Cond: ((ip >= ") && !strings.Contains(text, "Seq Scan")
		}
		if !ok || strings.Contains(text, "SCAN indicators") {
			t.Errorf("the members of %d netblock(s) are not read as a key range:\n%s", len(r.blobs), text)
		}
	}
}
