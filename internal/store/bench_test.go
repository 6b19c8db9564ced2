package store

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

func fill(b *testing.B, s *Store, n int) []netip.Addr {
	addrs := make([]netip.Addr, 0, n)
	rows := make([]*merge.Stored, 0, n)
	for i := 0; i < n; i++ {
		st := stored(netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}).String(), indicator.StatusActive)
		addrs = append(addrs, st.Addr)
		rows = append(rows, st)
	}
	commitRows(b, s, rows)
	return addrs
}

// BenchmarkWrite upserts new indicators in key order, as a first run does.
func BenchmarkWrite(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 20000
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Fresh keys each iteration: shift the address space.
		ctx := context.Background()
		tx, _ := s.BeginIngest(ctx)
		batch := make([]*merge.Stored, 0, BatchSize)
		for j := 0; j < n; j++ {
			k := i*n + j
			batch = append(batch, stored(netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}).String(), indicator.StatusActive))
			if len(batch) == BatchSize || j == n-1 {
				if err := tx.Write(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "indicators/s")
}

// BenchmarkLookup measures point lookups and reports p50 and p99. It uses
// the store at FOREWARN_BENCH_DB if set (scripts/bench points it at the
// keep-everything store of millions of indicators), else builds 100k.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	var s *Store
	var addrs []netip.Addr
	if path := os.Getenv("FOREWARN_BENCH_DB"); path != "" {
		var err error
		if s, err = Open(ctx, path); err != nil {
			b.Fatal(err)
		}
		if err := s.EachIndicator(ctx, func(ind *indicator.Indicator) error {
			if len(addrs) < 200000 {
				addrs = append(addrs, ind.Addr)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	} else {
		var err error
		if s, err = Open(ctx, filepath.Join(b.TempDir(), "l.db")); err != nil {
			b.Fatal(err)
		}
		addrs = fill(b, s, 100000)
	}
	defer s.Close()
	var lat []time.Duration
	b.ResetTimer()
	i := 0
	for b.Loop() {
		a := addrs[(i*7919)%len(addrs)]
		i++
		start := time.Now()
		if _, err := s.Lookup(ctx, a); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
