package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
	"forewarn/internal/testutil/pgtest"
)

// TestEachActiveStopsWhereAsked: the one-pass read, which scans its rows
// on a goroutine of its own, hands out every row in address order, and
// returns at once with fn's error, or the context's, mid-batch. What a
// user would notice otherwise: a render that is short, out of order, or
// hangs when its client goes away.
func TestEachActiveStopsWhereAsked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 20*activeBatch + 7 // more than the batches in flight
	var rows []*merge.Stored
	for i := range n {
		rows = append(rows, clusterRow(i, ""))
	}
	commitRows(t, s, rows)
	var last netip.Addr
	count := 0
	err = s.EachActive(ctx, RankImportance, RankFilter{}, nil, AllFields, func(_ Ranked, ind *indicator.Indicator, _ netip.Prefix) error {
		if count > 0 && !last.Less(ind.Addr) {
			t.Errorf("%s after %s", ind.Addr, last)
		}
		last = ind.Addr
		count++
		return nil
	})
	if err != nil || count != n {
		t.Fatalf("read %d of %d, %v", count, n, err)
	}
	stop := errors.New("stop")
	count = 0
	err = s.EachActive(ctx, "", RankFilter{}, nil, 0, func(Ranked, *indicator.Indicator, netip.Prefix) error {
		if count++; count == activeBatch+3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || count != activeBatch+3 {
		t.Errorf("stopped after %d rows with %v, want %d with %v", count, err, activeBatch+3, stop)
	}
	cctx, ccancel := context.WithCancel(ctx)
	count = 0
	err = s.EachActive(cctx, "", RankFilter{}, nil, 0, func(Ranked, *indicator.Indicator, netip.Prefix) error {
		if count++; count == 10 {
			ccancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || count >= n {
		t.Errorf("cancelled after 10 rows: read %d, %v", count, err)
	}
}

// TestEachActiveBriefOwnsItsRows: the lean formats' one-pass read, whose
// batches outlive the driver's rows, hands out each row's own categories
// and expiry, in address order, the fields it was not asked for zero, and
// stops where asked as EachActive does.
func TestEachActiveBriefOwnsItsRows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, pgtest.Path(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 3*activeBatch + 7 // more than the batches in flight
	var rows []*merge.Stored
	for i := range n {
		r := clusterRow(i, "")
		r.Has = r.Has.With(merge.DetectedCategories)
		r.DetectedCategories = []string{fmt.Sprintf("c%04d", i)}
		if i%3 != 0 {
			r.ExpiresAt = 2_000_000_000 + int64(i)
		}
		rows = append(rows, r)
	}
	commitRows(t, s, rows)
	for _, fields := range []BriefFields{AllBriefFields, BriefImportance} {
		i := 0
		err = s.EachActiveBrief(ctx, "", RankFilter{}, fields, func(b *Brief) error {
			r := rows[i]
			var exp time.Time
			if r.ExpiresAt != 0 && fields&BriefExpiry != 0 {
				exp = time.Unix(r.ExpiresAt, 0).UTC()
			}
			var sources [][]byte // Seclytics' attributes make it a source
			if fields&BriefSources != 0 {
				sources = [][]byte{[]byte(indicator.SourceSeclytics)}
			}
			if b.Addr != r.Addr || len(b.Categories) != 1 || string(b.Categories[0]) != r.DetectedCategories[0] ||
				!b.ExpiresAt.Equal(exp) || !b.HasImportance || b.Importance != r.Importance || fmt.Sprint(b.Sources) != fmt.Sprint(sources) {
				t.Fatalf("fields %b, row %d: got %s %q %q expires %v importance %v, want %s %q %q expires %v importance %v", fields, i,
					b.Addr, b.Categories, b.Sources, b.ExpiresAt, b.Importance, r.Addr, r.DetectedCategories, sources, exp, r.Importance)
			}
			i++
			return nil
		})
		if err != nil || i != n {
			t.Fatalf("fields %b: read %d of %d, %v", fields, i, n, err)
		}
	}
	stop := errors.New("stop")
	count := 0
	err = s.EachActiveBrief(ctx, "", RankFilter{}, AllBriefFields, func(*Brief) error {
		if count++; count == activeBatch+3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || count != activeBatch+3 {
		t.Errorf("stopped after %d rows with %v, want %d with %v", count, err, activeBatch+3, stop)
	}
	cctx, ccancel := context.WithCancel(ctx)
	count = 0
	err = s.EachActiveBrief(cctx, "", RankFilter{}, AllBriefFields, func(*Brief) error {
		if count++; count == 10 {
			ccancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || count >= n {
		t.Errorf("cancelled after 10 rows: read %d, %v", count, err)
	}
}
