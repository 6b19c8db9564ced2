package lookup

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/secret"
	"forewarn/internal/store"
)

// benchRows is the size of BenchmarkLookup's dump: FOREWARN_BENCH_LOOKUP_ROWS,
// else 200k rows, small enough for CI's one pass over every benchmark.
// For the documented numbers, at a million rows, with the store kept
// between runs:
//
//	FOREWARN_BENCH_LOOKUP_ROWS=1000000 FOREWARN_BENCH_CACHE=bench-cache \
//	  go test -run '^$' -bench Lookup -benchtime 200000x ./internal/lookup
func benchRows(b *testing.B) int {
	v := os.Getenv("FOREWARN_BENCH_LOOKUP_ROWS")
	if v == "" {
		return 200000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("FOREWARN_BENCH_LOOKUP_ROWS=%q: want a positive number of rows", v)
	}
	return n
}

// benchStore is built once per process: a benchmark function runs more than
// once while its b.N grows.
var benchStore struct {
	once sync.Once
	path string
	err  error
}

// storeOf returns the path of a store holding a generated dump of rows rows
// (seed 1), ingested through the real pipeline with every row kept and the
// default context, which does not select Predicted Netblock. It is kept
// under FOREWARN_BENCH_CACHE when that is set, else in a temporary
// directory removed when the process ends.
func storeOf(b *testing.B, rows int) string {
	benchStore.once.Do(func() {
		benchStore.path, benchStore.err = buildStore(rows)
	})
	if benchStore.err != nil {
		b.Fatal(benchStore.err)
	}
	return benchStore.path
}

// benchTemp is removed by TestMain.
var benchTemp string

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTemp != "" {
		os.RemoveAll(benchTemp)
	}
	os.Exit(code)
}

func buildStore(rows int) (string, error) {
	dir := os.Getenv("FOREWARN_BENCH_CACHE")
	if dir == "" {
		var err error
		if benchTemp, err = os.MkdirTemp("", "forewarn-lookup-bench-"); err != nil {
			return "", err
		}
		dir = benchTemp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("lookup-%d.db", rows))
	if _, err := os.Stat(path); err == nil {
		return path, nil // built by an earlier run; a partial one is never renamed here
	}
	ctx := context.Background()
	srv, err := fakeseclytics.New(ctx, fakeseclytics.Options{Rows: rows, Seed: 1, Token: testToken, Dir: dir})
	if err != nil {
		return "", err
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	tmp := path + ".partial"
	clean := func() {
		for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm", tmp + "." + feed.Name + ".lock"} {
			os.Remove(p)
		}
	}
	clean()
	defer clean()
	st, err := store.Open(ctx, tmp)
	if err != nil {
		return "", err
	}
	r, err := feed.Run(ctx, st, feed.Options{
		Token:    secret.New(testToken),
		StageDir: dir,
		Override: func(c *config.Seclytics) error {
			for k, v := range map[string]string{"base_url": hs.URL, "threshold": "0", "categories": ""} {
				if err := c.Set(k, v); err != nil {
					return err
				}
			}
			return nil
		},
	})
	if err == nil && r.Status != activity.StatusSucceeded {
		err = fmt.Errorf("run ended %s", r.Status)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("build the benchmark store: %w", err)
	}
	return path, os.Rename(tmp, path)
}

// BenchmarkLookup measures Service.Lookup on a store of a generated dump
// (see benchRows): for listed addresses, for unlisted ones inside a stored
// netblock, for unknown ones, and for a mix of the three in equal parts;
// and the index alone. It reports how long Build took and how much heap
// the index holds.
func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	rows := benchRows(b)
	st, err := store.Open(ctx, storeOf(b, rows))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	ix, err := Build(ctx, st)
	if err != nil {
		b.Fatal(err)
	}
	buildTime := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	indexBytes := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)

	svc := NewService(st)
	svc.ix.Store(ix)
	byVerdict := sampleAddrs(b, ctx, st, svc, 3000)
	var mix []netip.Addr
	for i := range 3000 {
		for _, v := range []string{VerdictListed, VerdictInNetblock, VerdictUnknown} {
			if l := byVerdict[v]; len(l) > 0 {
				mix = append(mix, l[i%len(l)])
			}
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(buildTime.Seconds(), "build-s")
		b.ReportMetric(indexBytes/(1<<20), "index-MiB")
		b.ReportMetric(float64(ix.Len()), "netblocks")
	}
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
	}{
		{"listed", byVerdict[VerdictListed]},
		{"netblock", byVerdict[VerdictInNetblock]},
		{"unknown", byVerdict[VerdictUnknown]},
		{"mix", mix},
	} {
		b.Run(c.name, func(b *testing.B) {
			if len(c.addrs) == 0 {
				b.Skip("no such address in this store")
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Lookup(ctx, c.addrs[i%len(c.addrs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			report(b)
		})
	}
	b.Run("index-only", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			ix.Containing(mix[i%len(mix)])
			i++
		}
		report(b)
	})
	runtime.KeepAlive(ix)
}

// sampleAddrs returns up to n addresses of each verdict: stored members,
// their unlisted neighbours inside their netblocks, and addresses of the
// documentation ranges, which the generator all but never draws. Each is
// filed under the verdict it actually gets.
func sampleAddrs(b *testing.B, ctx context.Context, st *store.Store, svc *Service, n int) map[string][]netip.Addr {
	var members []*store.NetblockMember
	total := 0
	if err := st.EachNetblockMember(ctx, func(m *store.NetblockMember) error {
		total++
		if total%97 == 0 {
			c := *m
			c.Categories = nil // reused by the store
			members = append(members, &c)
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	out := map[string][]netip.Addr{}
	add := func(a netip.Addr) {
		r, err := svc.Lookup(ctx, a)
		if err != nil {
			b.Fatal(err)
		}
		if len(out[r.Verdict]) < n {
			out[r.Verdict] = append(out[r.Verdict], a)
		}
	}
	for _, m := range members {
		add(m.Addr)
		for a, k := m.Addr.Next(), 0; k < 4 && m.Netblock.Contains(a); a, k = a.Next(), k+1 {
			if _, err := st.Lookup(ctx, a); errors.Is(err, store.ErrNotFound) {
				add(a)
				break
			}
		}
		if len(out[VerdictListed]) >= n && len(out[VerdictInNetblock]) >= n {
			break
		}
	}
	for i := range n {
		if i%2 == 0 {
			add(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}))
		} else {
			add(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}))
		}
	}
	return out
}
