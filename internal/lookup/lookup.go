package lookup

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// Verdicts, from the strongest.
const (
	// VerdictListed: the store holds the address as an indicator, whatever
	// its status.
	VerdictListed = "listed"
	// VerdictInNetblock: the address is not listed but lies in a netblock
	// that a stored indicator's prediction names.
	VerdictInNetblock = "in-predicted-netblock"
	// VerdictUnknown: neither.
	VerdictUnknown = "unknown"
)

// MaxValues caps the categories and clusters a summary lists: a netblock
// of thousands of indicators must not make every lookup in it huge. The
// lowest values in sort order are kept, so the cut does not depend on the
// order indicators were read in.
const MaxValues = 50

// Summary describes one stored netblock. It belongs to an immutable index:
// its slices and MaxImportance are shared and must not be modified.
type Summary struct {
	Netblock netip.Prefix `json:"netblock"`
	// Listed is how many stored indicators' predictions name this netblock.
	Listed int `json:"listed"`
	// MaxImportance is the highest stored Importance among them; nil when
	// none is stored (Importance is not selected as context).
	MaxImportance *float64 `json:"max_importance"`
	// Categories are their detected and predicted categories, as far as
	// stored; sorted, distinct, at most MaxValues.
	Categories []string `json:"categories"`
	// Clusters are their clusters, as far as stored; sorted, distinct, at
	// most MaxValues.
	Clusters []string `json:"clusters"`
}

// Result answers a lookup of one address.
type Result struct {
	IP      netip.Addr `json:"ip"`
	Verdict string     `json:"verdict"`
	// Indicator is the stored indicator when the verdict is listed. It is
	// the typed read model, which has no JSON form of its own: the API
	// and the CLI render it (api.LookupResult, the CLI's lookup --json).
	Indicator *indicator.Indicator `json:"-"`
	// Netblocks are every stored netblock containing the address, most
	// specific first; empty, never null, when there is none.
	Netblocks []Summary `json:"netblocks"`
	// Matched is the listed network (a list feed's CIDR entry) that
	// contains the address, when the address is not listed itself: the
	// verdict is then listed and Indicator is the network's.
	Matched netip.Prefix `json:"-"`
}

// NetworkSource is a Source that also holds networks as indicators (list
// feeds' CIDR entries). The index holds them when its source is one.
type NetworkSource interface {
	// EachNetwork streams every network indicator.
	EachNetwork(ctx context.Context, fn func(netip.Prefix) error) error
	// LookupNetwork returns a network's indicator, or an error wrapping
	// store.ErrNotFound.
	LookupNetwork(ctx context.Context, p netip.Prefix) (indicator.Indicator, error)
}

// scopedNetworks is what Scoped needs to read only the networks that can
// contain its addresses.
type scopedNetworks interface {
	EachNetworkOf(ctx context.Context, prefixes []netip.Prefix, fn func(netip.Prefix) error) error
	LookupNetwork(ctx context.Context, p netip.Prefix) (indicator.Indicator, error)
}

// Source is what lookups read: the store.
type Source interface {
	// Lookup returns the indicator for addr, or an error wrapping
	// store.ErrNotFound.
	Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error)
	// EachNetblockMember streams every indicator that has a lookup
	// netblock; fn must not keep the member.
	EachNetblockMember(ctx context.Context, fn func(*store.NetblockMember) error) error
}

// ScopedSource is a Source that can also stream only the members of given
// netblocks.
type ScopedSource interface {
	Source
	EachNetblockMemberOf(ctx context.Context, netblocks []netip.Prefix, fn func(*store.NetblockMember) error) error
}

// Scoped narrows src to the netblocks that could contain one of addrs. An
// index built from it answers for those addresses exactly as an index of
// the whole store, having read only their netblocks' members. It suits a
// one-shot lookup of a few addresses (the CLI), where reading every member
// to answer them would cost more than the lookups themselves.
func Scoped(src ScopedSource, addrs []netip.Addr) Source {
	seen := map[netip.Prefix]bool{}
	var nbs []netip.Prefix
	for _, a := range addrs {
		if !a.IsValid() {
			continue
		}
		a = a.Unmap().WithZone("")
		for bits := a.BitLen(); bits >= 0; bits-- {
			p, _ := a.Prefix(bits)
			if !seen[p] {
				seen[p] = true
				nbs = append(nbs, p)
			}
		}
	}
	return scoped{src, nbs}
}

type scoped struct {
	ScopedSource
	netblocks []netip.Prefix
}

func (s scoped) EachNetblockMember(ctx context.Context, fn func(*store.NetblockMember) error) error {
	return s.EachNetblockMemberOf(ctx, s.netblocks, fn)
}

// EachNetwork reads the networks among the scope's prefixes, when the
// source holds networks.
func (s scoped) EachNetwork(ctx context.Context, fn func(netip.Prefix) error) error {
	if n, ok := s.ScopedSource.(scopedNetworks); ok {
		return n.EachNetworkOf(ctx, s.netblocks, fn)
	}
	return nil
}

// LookupNetwork is the source's.
func (s scoped) LookupNetwork(ctx context.Context, p netip.Prefix) (indicator.Indicator, error) {
	if n, ok := s.ScopedSource.(scopedNetworks); ok {
		return n.LookupNetwork(ctx, p)
	}
	return indicator.Indicator{}, fmt.Errorf("%s: %w", p, store.ErrNotFound)
}

// Index holds every stored netblock with its summary, for containment
// queries. It is immutable after Build and safe for concurrent use.
type Index struct {
	table *bart.Table[*Summary]
	// networks are the network indicators, each mapped to itself, for
	// the most specific one containing an address.
	networks *bart.Table[netip.Prefix]
	built    time.Time
}

// Build reads every netblock member of src into a new index. Its memory
// grows with the number of netblocks, not of indicators.
func Build(ctx context.Context, src Source) (*Index, error) {
	ix := &Index{table: new(bart.Table[*Summary]), networks: new(bart.Table[netip.Prefix])}
	if ns, ok := src.(NetworkSource); ok {
		if err := ns.EachNetwork(ctx, func(p netip.Prefix) error {
			ix.networks.Insert(p, p)
			return nil
		}); err != nil {
			return nil, fmt.Errorf("build network index: %w", err)
		}
	}
	// Members come in address order and an indicator's netblock usually
	// contains it, so consecutive members mostly share a netblock: keep
	// the last one's summary at hand rather than searching the trie.
	var (
		last netip.Prefix
		sum  *Summary
		// Many netblocks hold the same few categories: once the
		// summaries are complete, identical lists share one array.
		lists = map[string][]string{}
	)
	err := src.EachNetblockMember(ctx, func(m *store.NetblockMember) error {
		if indicator.NetblockTooWide(m.Netblock) {
			return nil
		}
		if m.Netblock != last || sum == nil {
			last = m.Netblock
			var ok bool
			if sum, ok = ix.table.Get(m.Netblock); !ok {
				sum = &Summary{Netblock: m.Netblock}
				ix.table.Insert(m.Netblock, sum)
			}
		}
		sum.Listed++
		if m.HasImportance {
			if p := sum.MaxImportance; p == nil {
				imp := m.Importance
				sum.MaxImportance = &imp
			} else if m.Importance > *p {
				*p = m.Importance
			}
		}
		for _, c := range m.Categories {
			sum.Categories = addCapped(sum.Categories, c)
		}
		if m.Cluster != "" {
			sum.Clusters = addCapped(sum.Clusters, m.Cluster)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build netblock index: %w", err)
	}
	for _, s := range ix.table.All() {
		s.Categories = share(lists, s.Categories)
		s.Clusters = share(lists, s.Clusters)
	}
	ix.built = time.Now()
	return ix, nil
}

// addCapped inserts v into the sorted, distinct list l, keeping at most
// MaxValues of the lowest values.
func addCapped(l []string, v string) []string {
	i, found := slices.BinarySearch(l, v)
	if found || i >= MaxValues {
		return l
	}
	l = slices.Insert(l, i, v)
	if len(l) > MaxValues {
		l = l[:MaxValues]
	}
	return l
}

// share returns a list equal to l that is shared with earlier equal lists,
// clipped so that an append by a caller cannot write into it. An empty list
// becomes an empty, non-nil one (JSON []).
func share(lists map[string][]string, l []string) []string {
	if len(l) == 0 {
		return []string{}
	}
	key := l[0]
	for _, v := range l[1:] {
		key += "\x00" + v
	}
	if s, ok := lists[key]; ok {
		return s
	}
	s := slices.Clip(slices.Clone(l))
	lists[key] = s
	return s
}

// Containing returns the summaries of every netblock that contains addr,
// most specific first; an empty, non-nil slice when there is none. An
// IPv4-mapped IPv6 address is looked up as IPv4.
func (ix *Index) Containing(addr netip.Addr) []Summary {
	out := []Summary{}
	if ix == nil || !addr.IsValid() {
		return out
	}
	addr = addr.Unmap().WithZone("")
	for _, s := range ix.table.Supernets(netip.PrefixFrom(addr, addr.BitLen())) {
		out = append(out, *s)
	}
	return out
}

// Len returns the number of netblocks in the index.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return ix.table.Size()
}

// Built returns when the index was built.
func (ix *Index) Built() time.Time {
	if ix == nil {
		return time.Time{}
	}
	return ix.built
}

// Service answers lookups from the store and an index of its netblocks,
// which Rebuild replaces after the store changed (after a run).
type Service struct {
	src Source
	ix  atomic.Pointer[Index]

	// Rebuilds are serialised by slot, and the callers that arrive while
	// one runs share the next one: however many call, at most one build
	// runs and one waits.
	slot    chan struct{}
	mu      sync.Mutex
	pending *build
}

// build is one rebuild, shared by every caller that asked for it.
type build struct {
	done    chan struct{}
	err     error
	callers int // how many share it (tests watch it)
}

// NewService returns a service over src whose index is empty until the
// first Rebuild: lookups then find only listed addresses.
func NewService(src Source) *Service {
	s := &Service{src: src, slot: make(chan struct{}, 1)}
	s.ix.Store(&Index{table: new(bart.Table[*Summary]), networks: new(bart.Table[netip.Prefix])})
	return s
}

// Rebuild builds a new index from the store and swaps it in atomically;
// lookups keep using the previous one meanwhile. The index it waits for
// was started after it was called, so it reflects every run committed
// before. Concurrent calls do not pile up: those that arrive while a build
// runs share the next one.
func (s *Service) Rebuild(ctx context.Context) error {
	for {
		s.mu.Lock()
		b := s.pending
		if b == nil {
			b = &build{done: make(chan struct{})}
			s.pending = b
		}
		b.callers++
		s.mu.Unlock()

		acquired, ran := false, false
		select {
		case s.slot <- struct{}{}:
			acquired = true
		case <-b.done: // another caller ran it
		case <-ctx.Done():
			return fmt.Errorf("rebuild netblock index: %w", ctx.Err())
		}
		if acquired {
			select {
			case <-b.done: // another caller ran it before the slot came free
				<-s.slot
			default:
				s.run(ctx, b)
				ran = true
			}
		}
		// A shared build fails with its runner's context: one caller
		// giving up must not fail the others, which try again with
		// their own.
		if b.err != nil && !ran && ctx.Err() == nil &&
			(errors.Is(b.err, context.Canceled) || errors.Is(b.err, context.DeadlineExceeded)) {
			continue
		}
		return b.err
	}
}

// run performs b while holding the slot, then releases it.
func (s *Service) run(ctx context.Context, b *build) {
	s.mu.Lock()
	if s.pending == b {
		s.pending = nil // whoever comes now needs a build that starts later
	}
	s.mu.Unlock()
	ix, err := Build(ctx, s.src)
	if err == nil {
		s.ix.Store(ix)
	}
	b.err = err
	close(b.done)
	<-s.slot
}

// Lookup answers for one address.
func (s *Service) Lookup(ctx context.Context, addr netip.Addr) (Result, error) {
	return s.lookup(ctx, s.ix.Load(), addr)
}

// LookupMany answers for each address, in order, all from the same index.
func (s *Service) LookupMany(ctx context.Context, addrs []netip.Addr) ([]Result, error) {
	ix := s.ix.Load()
	out := make([]Result, 0, len(addrs))
	for _, a := range addrs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("look up addresses: %w", err)
		}
		r, err := s.lookup(ctx, ix, a)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) lookup(ctx context.Context, ix *Index, addr netip.Addr) (Result, error) {
	if !addr.IsValid() {
		return Result{}, errors.New("look up an address: the address is invalid")
	}
	addr = addr.Unmap().WithZone("")
	r := Result{IP: addr, Verdict: VerdictUnknown, Netblocks: ix.Containing(addr)}
	ind, err := s.src.Lookup(ctx, addr)
	switch {
	case err == nil:
		r.Verdict, r.Indicator = VerdictListed, &ind
		return r, nil
	case !errors.Is(err, store.ErrNotFound):
		return Result{}, fmt.Errorf("look up %s: %w", addr, err)
	}
	if p, ok := ix.networks.Lookup(addr); ok {
		if ns, ok := s.src.(NetworkSource); ok {
			ind, err := ns.LookupNetwork(ctx, p)
			switch {
			case err == nil:
				r.Verdict, r.Indicator, r.Matched = VerdictListed, &ind, p
				return r, nil
			case !errors.Is(err, store.ErrNotFound):
				return Result{}, fmt.Errorf("look up %s in %s: %w", addr, p, err)
			}
			// Gone since the index was built: as if not indexed.
		}
	}
	if len(r.Netblocks) > 0 {
		r.Verdict = VerdictInNetblock
	}
	return r, nil
}

// Built returns when the current index was built; zero before the first
// Rebuild.
func (s *Service) Built() time.Time { return s.ix.Load().Built() }

// Netblocks returns how many netblocks the current index holds.
func (s *Service) Netblocks() int { return s.ix.Load().Len() }
