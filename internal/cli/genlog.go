package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
	"forewarn/internal/loggen"
	"forewarn/internal/lookup"
	"forewarn/internal/store"
)

// genPool bounds the addresses a generated log hits and fills with.
const (
	genHitPool   = 10_000
	genOtherPool = 20_000
)

func cmdGenConnLog(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "gen conn-log", "gen conn-log --lines N --hit-rate R [--seed S] [--db FILE] -o conn.log[.gz] [--hits FILE]")
	db := dbFlag(e, fs)
	var o loggen.Options
	fs.IntVar(&o.Lines, "lines", 100000, "connection lines")
	fs.Float64Var(&o.HitRate, "hit-rate", 0.01, "share of lines, 0-1, whose external address the store lists")
	fs.Int64Var(&o.Seed, "seed", 1, "generator seed (same seed and store, same bytes)")
	start := fs.String("start", "2026-11-01T00:00:00Z", "time of the first line (RFC 3339)")
	out := fs.String("o", "", "output file; gzip when it ends in .gz")
	hitsOut := fs.String("hits", "", "write the lines that should hit here, one \"LINE<TAB>FIELD<TAB>ADDRESS\" each (default: FILE.hits)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, *start)
	if *out == "" || err != nil {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("give -o FILE and a --start in RFC 3339")}
	}
	o.Start = t
	if *hitsOut == "" {
		*hitsOut = strings.TrimSuffix(*out, ".gz") + ".hits"
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if o.Hits, o.Others, err = genPools(ctx, st, uint64(o.Seed)); err != nil {
		return fmt.Errorf("gen conn-log: %w", err)
	}
	stats, err := writeConnLog(ctx, *out, *hitsOut, o)
	if err != nil {
		return fmt.Errorf("gen conn-log: %w", err)
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d lines, %d of them hits (listed in %s)\n", *out, stats.Lines, stats.Hits, *hitsOut)
	return nil
}

func writeConnLog(ctx context.Context, out, hitsOut string, o loggen.Options) (loggen.Stats, error) {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return loggen.Stats{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h, err := os.Create(hitsOut)
	if err != nil {
		return loggen.Stats{}, err
	}
	defer h.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if strings.HasSuffix(out, ".gz") {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	stats, err := loggen.Generate(ctx, w, h, o)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err == nil {
		err = h.Close()
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	return stats, err
}

// genPools picks the addresses a generated log hits — up to genHitPool
// Active, not allow-listed indicators, chosen by a seeded hash so the
// choice does not depend on the order the store reads them in — and the
// ones it fills the other lines with: public IPv4 addresses the store
// neither lists nor predicts a netblock of, nor allow-lists.
func genPools(ctx context.Context, st *store.Store, seed uint64) (hits, others []netip.Addr, err error) {
	entries, err := st.AllowlistEntries(ctx)
	if err != nil {
		return nil, nil, err
	}
	allow := allowlist.NewMatcher(entries, true)
	rank := func(a netip.Addr) uint64 {
		b := a.As16()
		x := seed
		for _, c := range b {
			x = (x ^ uint64(c)) * 0x100000001b3
		}
		return x
	}
	err = st.EachAddress(ctx, indicator.StatusActive, func(a netip.Addr) bool {
		if !allow.Contains(a) {
			hits = append(hits, a)
		}
		if len(hits) >= 2*genHitPool {
			hits = keepLowest(hits, rank, genHitPool)
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	hits = keepLowest(hits, rank, genHitPool)
	known := &prefetched{Store: st}
	svc := lookup.NewService(known)
	if err := svc.Rebuild(ctx); err != nil {
		return nil, nil, err
	}
	// The candidates are drawn in batches, the store asked about each
	// batch at once, then each judged in the order drawn: the same
	// addresses, in the same order, as drawing and looking up one at a
	// time, without a query (two when listed) per candidate.
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	cands := make([]netip.Addr, 0, genLookupBatch)
	for tries := 0; len(others) < genOtherPool && tries < 20*genOtherPool; {
		cands = cands[:0]
		for ; len(cands) < genLookupBatch && tries < 20*genOtherPool; tries++ {
			a := netip.AddrFrom4([4]byte{byte(1 + r.IntN(223)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(254))})
			if !allow.Contains(a) {
				cands = append(cands, a)
			}
		}
		if err := known.fetch(ctx, cands); err != nil {
			return nil, nil, err
		}
		for _, a := range cands {
			if len(others) >= genOtherPool {
				break
			}
			res, err := svc.Lookup(ctx, a)
			if err != nil {
				return nil, nil, err
			}
			if res.Verdict == lookup.VerdictUnknown {
				others = append(others, a)
			}
		}
	}
	return hits, others, nil
}

// genLookupBatch is how many candidate addresses genPools asks the store
// about in one query.
const genLookupBatch = 500

// prefetched is the store, for a lookup service, with the indicators of
// the last batch of addresses read at once (fetch): Lookup answers those
// from memory and asks the store about any other. The indicators come
// from LookupMany, without their feeds' listings: genPools reads only the
// verdict.
type prefetched struct {
	*store.Store
	batch map[netip.Addr]*indicator.Indicator // nil: not held
}

func (p *prefetched) fetch(ctx context.Context, addrs []netip.Addr) error {
	inds, err := p.LookupMany(ctx, addrs)
	if err != nil {
		return err
	}
	p.batch = make(map[netip.Addr]*indicator.Indicator, len(addrs))
	for _, a := range addrs {
		p.batch[a.Unmap()] = nil
	}
	for i := range inds {
		p.batch[inds[i].Addr.Unmap()] = &inds[i]
	}
	return nil
}

// Lookup is the store's, from the batch when it holds addr.
func (p *prefetched) Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error) {
	ind, ok := p.batch[addr.Unmap()]
	switch {
	case !ok:
		return p.Store.Lookup(ctx, addr)
	case ind == nil:
		return indicator.Indicator{}, fmt.Errorf("%s: %w", addr, store.ErrNotFound)
	}
	return *ind, nil
}

// keepLowest keeps the n addresses of lowest rank, sorted by rank.
func keepLowest(as []netip.Addr, rank func(netip.Addr) uint64, n int) []netip.Addr {
	slices.SortFunc(as, func(a, b netip.Addr) int {
		ra, rb := rank(a), rank(b)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		return a.Compare(b)
	})
	if len(as) > n {
		as = as[:n]
	}
	return as
}
