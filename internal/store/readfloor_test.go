package store

import (
	"context"
	"database/sql"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"forewarn/internal/indicator"
)

// BenchmarkActiveReadFloor is the floor under a one-pass render of every
// Active indicator (issue 19: a 1M-entry profile in 2 s): the driver
// alone handing out the columns a rich format reads (every attribute and
// field, as jsonl and STIX read them) into sql.RawBytes, decoded and
// written by nothing, against the key alone and against EachActive doing
// the same read and decoding each row into an indicator. It reports
// ns/indicator: times a million, the seconds of CPU a 1M render cannot go
// below with this driver. It uses the store at FOREWARN_BENCH_DB if set
// (the keep-everything store of scripts/bench-outputs), else builds 20,000
// indicators.
func BenchmarkActiveReadFloor(b *testing.B) {
	ctx := context.Background()
	var s *Store
	var err error
	if path := os.Getenv("FOREWARN_BENCH_DB"); path != "" {
		s, err = Open(ctx, path)
	} else if s, err = Open(ctx, filepath.Join(b.TempDir(), "f.db")); err == nil {
		fill(b, s, 20000)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	every, err := slotsOf(nil)
	if err != nil {
		b.Fatal(err)
	}
	all, _ := renderColumns(every, AllFields)
	raw := func(cols string) func(b *testing.B) {
		return func(b *testing.B) {
			n := 0
			for b.Loop() {
				var dest []any
				if err := s.eachActiveRow(ctx, "", RankFilter{}, cols, func(sc *withKey) error {
					if dest == nil {
						names, err := sc.rows.Columns()
						if err != nil {
							return err
						}
						for range names {
							dest = append(dest, new(sql.RawBytes))
						}
					}
					n++
					return sc.rows.Scan(dest...)
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(n, 1)), "ns/indicator")
		}
	}
	b.Run("driver/key", raw("ip"))
	b.Run("driver/all-columns", raw(all))
	b.Run("EachActive/all", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if err := s.EachActive(ctx, "", RankFilter{}, nil, AllFields, func(Ranked, *indicator.Indicator, netip.Prefix) error {
				n++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(n, 1)), "ns/indicator")
	})
}
