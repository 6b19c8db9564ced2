package lookup

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"forewarn/internal/store"
)

// feedsList is a generated list feed over n entries: nine IPv4 hosts
// (10.0.0.0/8) for every /24 network (100.64.0.0 and up). Feed k of feeds
// lists entry i when (i+k) mod feeds < per, so that with 10 feeds and per 3
// every indicator has three listing feeds; with 1 feed and per 1, one.
type feedsList struct {
	n, i, k, feeds, per int
}

func (g *feedsList) Next() (store.ListEntry, error) {
	for ; g.i < g.n; g.i++ {
		if (g.i+g.k)%g.feeds < g.per {
			e := store.ListEntry{Prefix: feedsEntry(g.i)}
			g.i++
			return e, nil
		}
	}
	return store.ListEntry{}, io.EOF
}

func feedsEntry(i int) netip.Prefix {
	if i%10 == 9 {
		v := uint32(100)<<24 + uint32(64)<<16 + uint32(i/10)<<8
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
}

// TestLookupManyFeeds measures the lookup latency (p50, p99) of hosts and
// of addresses inside listed networks on a store of
// FOREWARN_LOOKUP_FEEDS_ENTRIES indicators (1,000,000 with "1M") listed by
// one feed, then on the same indicators listed by 10 feeds (three per
// indicator), and checks every answer names the range and the number of
// listing feeds. It runs only when asked: building the stores takes
// minutes at a million.
func TestLookupManyFeeds(t *testing.T) {
	v := os.Getenv("FOREWARN_LOOKUP_FEEDS_ENTRIES")
	if v == "" {
		t.Skip("set FOREWARN_LOOKUP_FEEDS_ENTRIES=1M (or a number) to measure lookups with 10 feeds")
	}
	n := 1_000_000
	if v != "1M" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	type setup struct{ feeds, per int }
	setups := []setup{{1, 1}, {10, 3}}
	svcs := make([]*Service, len(setups))
	for c, f := range setups {
		st, err := store.Open(ctx, filepath.Join(t.TempDir(), "feeds.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		start := time.Now()
		for k := range f.feeds {
			run := store.ListRun{Feed: "feed-" + strconv.Itoa(k), Source: "Source " + strconv.Itoa(k),
				Mode: store.ModeSnapshot, Confidence: 50, TempDir: t.TempDir()}
			if _, err := st.IngestList(ctx, run, &feedsList{n: n, k: k, feeds: f.feeds, per: f.per}); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%d feeds, %d indicators: ingest %s", f.feeds, n, time.Since(start).Round(time.Millisecond))
		svcs[c] = NewService(st)
		if err := svcs[c].Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Three rounds alternating between the stores, so that the machine's
	// load weighs on both alike; each round looks up 1,000 hosts and
	// 1,000 addresses inside networks, spread over the whole list.
	hosts, inNets := make([][]time.Duration, len(setups)), make([][]time.Duration, len(setups))
	for range 3 {
		for c, f := range setups {
			for j := range 2000 {
				i := j * (n / 2000)
				addr, inNet := feedsEntry(i).Addr(), false
				if i%10 == 9 {
					addr, inNet = addr.Next(), true
				} else if j%2 == 1 {
					i = i/10*10 + 9
					addr, inNet = feedsEntry(i).Addr().Next(), true
				}
				t0 := time.Now()
				r, err := svcs[c].Lookup(ctx, addr)
				d := time.Since(t0)
				if err != nil {
					t.Fatal(err)
				}
				if r.Verdict != VerdictListed || r.Indicator == nil || len(r.Indicator.Feeds) != f.per {
					t.Fatalf("%d feeds: lookup %s: verdict %s, %v: want listed by %d feeds", f.feeds, addr, r.Verdict, r.Indicator, f.per)
				}
				if inNet {
					if r.Matched != feedsEntry(i) {
						t.Fatalf("%d feeds: lookup %s: matched %s, want %s", f.feeds, addr, r.Matched, feedsEntry(i))
					}
					inNets[c] = append(inNets[c], d)
				} else {
					hosts[c] = append(hosts[c], d)
				}
			}
		}
	}
	q := func(l []time.Duration, p float64) time.Duration {
		slices.Sort(l)
		return l[int(float64(len(l)-1)*p)]
	}
	var p99 [2]time.Duration
	for c, f := range setups {
		p99[c] = q(append(slices.Clone(hosts[c]), inNets[c]...), 0.99)
		t.Logf("%d feeds (%d per indicator): hosts p50 %s p99 %s; in networks p50 %s p99 %s; all p99 %s", f.feeds, f.per,
			q(hosts[c], 0.5), q(hosts[c], 0.99), q(inNets[c], 0.5), q(inNets[c], 0.99), p99[c])
	}
	t.Logf("p99 with 10 feeds / p99 with 1 feed: %.2f", float64(p99[1])/float64(p99[0]))
}
