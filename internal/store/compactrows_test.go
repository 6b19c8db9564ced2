package store

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"

	"github.com/google/go-cmp/cmp"
)

// TestAttributeRunsSurviveTheStore: the run that created and the run that
// last updated each attribute (the attribute timeline of an indicator) read
// back as written, in either layout of s_attr_runs, and rows written by an
// older forewarn in the full layout read back unchanged. What a user would
// notice otherwise: wrong "created"/"updated" times on attributes, or an
// upgraded store that no longer reads.
func TestAttributeRunsSurviveTheStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	all := merge.Set(1<<merge.NumSlots - 1)
	row := func(ip string, has merge.Set, runs func(s merge.Slot) (created, updated int64)) *merge.Stored {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: 1_800_000_000, UpdatedAt: 1_800_000_000}
		r.Addr, r.Has = netip.MustParseAddr(ip), has
		r.Cluster, r.DetectedBy, r.DetectedIdentifiers, r.DetectedCategories = "c", []string{"b"}, []string{"i"}, []string{"k"}
		r.PredictedNetblock = netip.MustParsePrefix("192.0.2.0/24")
		for sl := merge.Slot(0); sl < merge.NumSlots; sl++ {
			if has.Has(sl) {
				r.Created[sl], r.Updated[sl] = runs(sl)
			}
		}
		return r
	}
	rows := map[string]*merge.Stored{
		// A first ingest: one run created and updated every attribute.
		"first ingest": row("192.0.2.1", all, func(merge.Slot) (int64, int64) { return 7, 7 }),
		// A later run changed every attribute.
		"all updated later": row("192.0.2.2", all, func(merge.Slot) (int64, int64) { return 7, 300 }),
		// A later run changed one attribute.
		"one updated later": row("192.0.2.3", all, func(sl merge.Slot) (int64, int64) {
			if sl == merge.Importance {
				return 7, 9
			}
			return 7, 7
		}),
		// A late attribute: created after the others.
		"one created later": row("192.0.2.4", all, func(sl merge.Slot) (int64, int64) {
			if sl == merge.Cluster {
				return 9, 9
			}
			return 7, 7
		}),
		// One attribute, run ids of two bytes: the short layout is no
		// shorter than the full one.
		"one attribute":  row("192.0.2.5", merge.Set(0).With(merge.LastSeenAt), func(merge.Slot) (int64, int64) { return 300, 300 }),
		"two attributes": row("192.0.2.6", merge.Set(0).With(merge.LastSeenAt).With(merge.DetectedAt), func(merge.Slot) (int64, int64) { return 5, 6 }),
		"large run ids":  row("192.0.2.7", all, func(merge.Slot) (int64, int64) { return 1 << 40, 1<<40 + 1 }),
		// Three runs: the full layout.
		"three runs": row("192.0.2.9", all, func(sl merge.Slot) (int64, int64) {
			switch sl {
			case merge.Cluster:
				return 7, 9
			case merge.Importance:
				return 7, 11
			}
			return 7, 7
		}),
	}
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, r := range rows {
		if err := tx.Write(ctx, []*merge.Stored{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first ingest", "all updated later"} {
		if got, full := len(packRuns(rows[name])), 2*int(merge.NumSlots); got >= full {
			t.Errorf("%s: the attribute runs take %d bytes, no fewer than the full layout's %d", name, got, full)
		}
	}

	// An older forewarn wrote the full layout for every row.
	old := row("192.0.2.8", all, func(merge.Slot) (int64, int64) { return 7, 7 })
	rows["full layout of an older forewarn"] = old
	tx, err = s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Write(ctx, []*merge.Stored{old}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var full []byte
	for sl := merge.Slot(0); sl < merge.NumSlots; sl++ {
		full = binary.AppendUvarint(binary.AppendUvarint(full, 7), 7)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE indicators SET s_attr_runs = ? WHERE ip = ?`, full, key(old.Addr)); err != nil {
		t.Fatal(err)
	}

	for name, want := range rows {
		got, err := s.LookupStored(ctx, want.Addr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff([2][merge.NumSlots]int64{want.Created, want.Updated}, [2][merge.NumSlots]int64{got.Created, got.Updated}); diff != "" {
			t.Errorf("%s: created and updated runs per attribute (-want +got):\n%s", name, diff)
		}
	}
}

// TestPredictedNetblockSurvivesTheStore: the Predicted Netblock attribute
// reads back as written whether it is the row's lookup netblock (stored
// once) or not, and a row written by an older forewarn with the netblock
// as text reads back unchanged. What a user would notice otherwise: a
// wrong or missing predicted netblock in lookups, exports and STIX.
func TestPredictedNetblockSurvivesTheStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t)
	row := func(ip, predicted, lookup string) *merge.Stored {
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: 1_800_000_000, UpdatedAt: 1_800_000_000}
		r.Addr = netip.MustParseAddr(ip)
		if predicted != "" {
			r.Has = r.Has.With(merge.PredictedNetblock)
			r.PredictedNetblock = netip.MustParsePrefix(predicted)
		}
		if lookup != "" {
			r.LookupNetblock = netip.MustParsePrefix(lookup)
		}
		return r
	}
	rows := map[string]*merge.Stored{
		"IPv4, the lookup netblock":       row("192.0.2.1", "192.0.2.0/24", "192.0.2.0/24"),
		"IPv6, the lookup netblock":       row("2001:db8::1", "2001:db8::/48", "2001:db8::/48"),
		"another than the lookup":         row("192.0.2.2", "192.0.0.0/16", "192.0.2.0/24"),
		"not masked":                      row("192.0.2.3", "192.0.2.3/24", "192.0.2.3/24"),
		"no lookup netblock":              row("192.0.2.4", "192.0.2.0/24", ""),
		"not kept, lookup netblock only":  row("192.0.2.5", "", "192.0.2.0/24"),
		"IPv4-mapped IPv6 netblock":       row("::ffff:198.51.100.1", "::ffff:198.51.100.0/120", "::ffff:198.51.100.0/120"),
		"text of an older forewarn":       row("192.0.2.6", "192.0.2.0/24", "192.0.2.0/24"),
		"single address, lookup netblock": row("192.0.2.7", "192.0.2.7/32", "192.0.2.7/32"),
	}
	tx, err := s.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, r := range rows {
		if err := tx.Write(ctx, []*merge.Stored{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old := rows["text of an older forewarn"]
	if _, err := s.w.ExecContext(ctx, `UPDATE indicators SET s_predicted_netblock = ? WHERE ip = ?`, "192.0.2.0/24", key(old.Addr)); err != nil {
		t.Fatal(err)
	}
	for name, want := range rows {
		got, err := s.LookupStored(ctx, want.Addr.Unmap())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Has.Has(merge.PredictedNetblock) != want.Has.Has(merge.PredictedNetblock) || got.PredictedNetblock != want.PredictedNetblock {
			t.Errorf("%s: predicted netblock %v (present %t), want %v (present %t)", name,
				got.PredictedNetblock, got.Has.Has(merge.PredictedNetblock), want.PredictedNetblock, want.Has.Has(merge.PredictedNetblock))
		}
	}
	var text string
	if err := s.r.QueryRowContext(ctx, `SELECT s_predicted_netblock FROM indicators WHERE ip = ?`, key(rows["IPv4, the lookup netblock"].Addr)).Scan(&text); err != nil || text != sameNetblock {
		t.Errorf("s_predicted_netblock of a row whose netblock is its lookup netblock: %q, %v; want it stored once", text, err)
	}
}
