package store

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// clusterRow is an Active indicator at 10.0.<i/256>.<i%256> in cluster
// (none when empty).
func clusterRow(i int, cluster string) *merge.Stored {
	r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: 1_800_000_000, UpdatedAt: 1_800_000_000}
	r.Addr = netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i % 256)})
	r.Has = merge.Set(0).With(merge.Importance)
	r.Importance = float64(i % 7)
	if cluster != "" {
		r.Has = r.Has.With(merge.Cluster)
		r.Cluster = cluster
	}
	return r
}

// readClusters returns what a user sees of rows: each indicator as the
// store reads it back, and each cluster's members as the detail page lists them.
func readClusters(t *testing.T, s *Store, rows []*merge.Stored) (map[netip.Addr]merge.Stored, map[string][]netip.Addr) {
	t.Helper()
	ctx := context.Background()
	got, members := map[netip.Addr]merge.Stored{}, map[string][]netip.Addr{}
	for _, r := range rows {
		st, err := s.LookupStored(ctx, r.Addr)
		if err != nil {
			t.Fatalf("lookup %s: %v", r.Addr, err)
		}
		got[r.Addr] = st
		if r.Cluster != "" && members[r.Cluster] == nil {
			if members[r.Cluster], err = s.ClusterMembers(ctx, r.Cluster, 100); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got, members
}

// TestClusterIDsMigrateInPlace: a store in the layout before clusters were
// dictionary-encoded (the cluster as text in each row) is converted when
// opened, and reads back the same indicators and cluster lists; the next run
// adds clusters after the converted ones. What a user would notice
// otherwise: an upgrade that loses or mixes up clusters.
func TestClusterIDsMigrateInPlace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := pgtest.Path(t, t.TempDir())
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []*merge.Stored
	for i := range 300 {
		c := ""
		if i%5 != 0 {
			c = fmt.Sprintf("%040x", i%11)
		}
		rows = append(rows, clusterRow(i, c))
	}
	commitRows(t, s, rows)
	want, wantMembers := readClusters(t, s, rows)
	if len(wantMembers) != 11 || len(wantMembers[fmt.Sprintf("%040x", 3)]) == 0 {
		t.Fatalf("cluster lists before the migration: %v", wantMembers)
	}

	// Back to the layout of SQLite 024 / PostgreSQL 019, as an older
	// forewarn left it.
	version, text := 25, "TEXT"
	if s.d == postgresDialect {
		version, text = 20, `text COLLATE "C"`
	}
	for _, q := range []string{
		`DROP INDEX indicators_active_cluster`,
		`ALTER TABLE indicators ADD COLUMN s_cluster ` + text,
		`UPDATE indicators SET s_cluster = (SELECT name FROM s_clusters WHERE id = s_cluster_id)`,
		`ALTER TABLE indicators DROP COLUMN s_cluster_id`,
		`DROP TABLE s_clusters`,
		`CREATE INDEX indicators_active_cluster ON indicators (s_cluster) WHERE status = 'Active' AND s_cluster IS NOT NULL`,
		// What later migrations add, which they cannot add twice.
		`DROP INDEX IF EXISTS memberships_feed_lead`,
		dropGeneration(s.d),
		`DROP INDEX IF EXISTS indicators_renewed`,
		`ALTER TABLE indicators DROP COLUMN generation`,
		`ALTER TABLE indicators DROP COLUMN renewed_at`,
		`DROP TABLE IF EXISTS tombstones`,
		fmt.Sprintf(`DELETE FROM schema_migrations WHERE version >= %d`, version),
	} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, gotMembers := readClusters(t, s, rows)
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("indicators after the migration (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(wantMembers, gotMembers, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("cluster members after the migration (-before +after):\n%s", diff)
	}

	// A later run: a new cluster, a converted one, and a row that moves
	// from one to the other.
	later := []*merge.Stored{clusterRow(1000, "new"), clusterRow(1001, fmt.Sprintf("%040x", 4)), clusterRow(1, "new")}
	commitRows(t, s, later)
	rows = append(rows, later[:2]...)
	rows[1] = later[2]
	got, gotMembers = readClusters(t, s, rows)
	for _, r := range rows {
		if c := got[r.Addr].Cluster; c != r.Cluster {
			t.Errorf("%s: cluster %q, want %q", r.Addr, c, r.Cluster)
		}
	}
	if m := gotMembers["new"]; len(m) != 2 || m[0] != later[2].Addr || m[1] != later[0].Addr {
		t.Errorf("members of the new cluster: %v", m)
	}
}

// TestClusterIDsPastTheirBound: a run that writes more clusters than
// clusterIDs remembers still gives each its one id, across batches and
// when a batch repeats a cluster it has forgotten.
func TestClusterIDsPastTheirBound(t *testing.T) {
	defer func(n int) { maxClusterIDs = n }(maxClusterIDs)
	maxClusterIDs = 4
	s := open(t)
	var batches [][]*merge.Stored
	var rows []*merge.Stored
	for b := range 6 {
		var batch []*merge.Stored
		for i := range 5 {
			n := b*5 + i
			// Clusters 0-9, each in three rows, batches apart.
			batch = append(batch, clusterRow(n, fmt.Sprintf("c%d", n%10)))
		}
		batches, rows = append(batches, batch), append(rows, batch...)
	}
	commitRows(t, s, batches...)
	// And a run that starts from a store already holding them.
	more := []*merge.Stored{clusterRow(100, "c1"), clusterRow(101, "c11"), clusterRow(102, "c2")}
	commitRows(t, s, more[:1], more[1:])
	rows = append(rows, more...)
	got, members := readClusters(t, s, rows)
	for _, r := range rows {
		if c := got[r.Addr].Cluster; c != r.Cluster {
			t.Errorf("%s: cluster %q, want %q", r.Addr, c, r.Cluster)
		}
	}
	if n := len(members["c1"]); n != 4 {
		t.Errorf("cluster c1 has %d members, want 4", n)
	}
	var stored int
	if err := s.w.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM s_clusters`).Scan(&stored); err != nil || stored != 11 {
		t.Errorf("s_clusters holds %d names (%v), want 11", stored, err)
	}
}

// dropGeneration drops the trigger of SQLite 030 / PostgreSQL 023 (on
// PostgreSQL with its function).
func dropGeneration(d dialect) string {
	if d == postgresDialect {
		return `DROP FUNCTION IF EXISTS forewarn_indicator_generation() CASCADE`
	}
	return `DROP TRIGGER IF EXISTS indicators_generation`
}

// TestClusterNamesStoredSince: the names a one-pass read (EachActive) read
// before its rows name a cluster a run stored since, too (read by key),
// and every indicator read names its own cluster. What a user would
// notice otherwise: an export that fails, or names the wrong cluster,
// when a run commits while it starts.
func TestClusterNamesStoredSince(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commitRows(t, s, []*merge.Stored{clusterRow(1, "alpha"), clusterRow(2, "")})
	names, err := s.readClusterNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	commitRows(t, s, []*merge.Stored{clusterRow(3, "beta"), clusterRow(4, "alpha")})
	want := map[netip.Addr]string{clusterRow(1, "").Addr: "alpha", clusterRow(3, "").Addr: "beta", clusterRow(4, "").Addr: "alpha"}
	for addr, cluster := range want {
		var id int64
		if err := s.x.QueryRowContext(ctx, `SELECT s_cluster_id FROM indicators WHERE ip = ?`, key(addr)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if got, err := names.name(id); err != nil || got != cluster {
			t.Errorf("%s: cluster %q, %v; want %q", addr, got, err, cluster)
		}
	}
	var got []string
	err = s.EachActive(ctx, "", RankFilter{}, []string{indicator.AttrCluster}, 0, func(_ Ranked, ind *indicator.Indicator, _ netip.Prefix) error {
		got = append(got, ind.Addr.String()+" "+ind.Attr(indicator.AttrCluster).String())
		return nil
	})
	if diff := cmp.Diff([]string{"10.0.0.1 alpha", "10.0.0.2 ", "10.0.0.3 beta", "10.0.0.4 alpha"}, got); err != nil || diff != "" {
		t.Errorf("EachActive's clusters (-want +got), %v:\n%s", err, diff)
	}
}
