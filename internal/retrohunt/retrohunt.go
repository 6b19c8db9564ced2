package retrohunt

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/gaissmai/bart"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
	"forewarn/internal/logscan"
	"forewarn/internal/lookup"
	"forewarn/internal/store"
)

// VerdictWhitelisted: the address is allow-listed (an entry a person added,
// or a special-purpose range such as 10.0.0.0/8), or its indicator's status
// is Whitelisted. It is counted, never reported as a hit.
const VerdictWhitelisted = "whitelisted"

// Info is what the store says about one address.
type Info struct {
	// Verdict is lookup.VerdictListed, lookup.VerdictInNetblock,
	// VerdictWhitelisted or lookup.VerdictUnknown.
	Verdict string
	// Feeds are the sources that list the address (listed), or that
	// predicted its netblock (in-predicted-netblock).
	Feeds []string
	// Importance is the indicator's Importance, or the highest of its
	// netblock's indicators; HasImportance is false when none is stored.
	Importance    float64
	HasImportance bool
	// PredictedAt is the indicator's Predicted At; zero when the feed's
	// context does not keep it, and for netblock hits.
	PredictedAt time.Time
	// Netblock is the most specific predicted netblock containing the
	// address, if any.
	Netblock netip.Prefix
	// ConfirmedAt is when a list feed first listed the address (its own
	// First Seen, else forewarn's first observation): the confirmation of
	// a prediction. Zero when none ever did, and for netblock hits.
	ConfirmedAt time.Time
}

// Hit reports whether the verdict is a hit: listed or in a predicted
// netblock.
func (in *Info) Hit() bool {
	return in.Verdict == lookup.VerdictListed || in.Verdict == lookup.VerdictInNetblock
}

// Resolver says what the store knows about addresses, many at a time.
type Resolver interface {
	// ResolveMany answers for each of addrs, in order.
	ResolveMany(ctx context.Context, addrs []netip.Addr) ([]Info, error)
}

// Hit is one address of a log line that the store knows. It is valid until
// the callback that received it returns.
type Hit struct {
	Line  int64
	Time  time.Time // zero when the line has none
	Addr  netip.Addr
	Field string
	*Info
}

// DaysAfterPrediction returns how many whole days after its Predicted At
// the address appeared in the log (negative: before); ok is false when the
// line has no time or no Predicted At is stored.
func (h *Hit) DaysAfterPrediction() (days int, ok bool) {
	if h.Time.IsZero() || h.PredictedAt.IsZero() {
		return 0, false
	}
	return int(math.Floor(h.Time.Sub(h.PredictedAt).Hours() / 24)), true
}

// TopAddress is an address hit, with how often.
type TopAddress struct {
	Addr    netip.Addr `json:"address"`
	Hits    int64      `json:"hits"`
	Verdict string     `json:"verdict"`
}

// Summary sums up a hunt.
type Summary struct {
	// Lines is how many lines were read, Addresses how many addresses
	// they held (each occurrence counts).
	Lines     int64 `json:"lines"`
	Addresses int64 `json:"addresses"`
	// Hits counts hits, ByVerdict splits them by verdict.
	Hits      int64            `json:"hits"`
	ByVerdict map[string]int64 `json:"by_verdict"`
	// Whitelisted and Unknown count the other occurrences.
	Whitelisted int64 `json:"whitelisted"`
	Unknown     int64 `json:"unknown"`
	// Top are the addresses hit most, most first (ties by address), at
	// most TopN. TopApproximate is true when more distinct addresses were
	// hit than are tracked (MaxTracked): counts of addresses first hit
	// after the limit are then left out.
	Top            []TopAddress `json:"top"`
	TopApproximate bool         `json:"top_approximate"`
	// HitAddresses is how many distinct addresses were hit (up to
	// MaxTracked).
	HitAddresses int64 `json:"hit_addresses"`
	// AfterPrediction counts hits on a line dated at or after the
	// address's Predicted At; BeforePrediction those dated before it;
	// Undated the hits for which either date is missing.
	AfterPrediction  int64 `json:"after_prediction"`
	BeforePrediction int64 `json:"before_prediction"`
	Undated          int64 `json:"undated"`
	// BeforeConfirmation counts, among AfterPrediction, the hits dated
	// before any list feed first listed the address (or on an address no
	// list feed ever listed): the traffic the prediction alone warned of.
	BeforeConfirmation int64 `json:"before_confirmation"`
	// Cached is how many lookups the cache answered; Resolved how many
	// went to the store.
	Cached   int64 `json:"-"`
	Resolved int64 `json:"-"`
	// Recorded is how many indicators got a sighting (match --record).
	Recorded int64 `json:"recorded"`
}

// Limits of a hunt's memory.
const (
	// TopN is how many top addresses a summary lists.
	TopN = 10
	// MaxTracked bounds the distinct hit addresses counted for Top.
	MaxTracked = 100_000
	// CacheSize bounds each of the cache's two generations.
	CacheSize = 1 << 17
)

// Hunter matches logs, one after another, against a Resolver, keeping
// one cache and one summary across them. It is not safe for concurrent
// use.
//
// Lines are matched in batches: a batch holds up to batchLines lines (their
// addresses copied, a few hundred kilobytes at most) until batchResolve
// addresses are missing from the cache; those are resolved with one
// ResolveMany, then the batch's hits are reported in log order.
type Hunter struct {
	r       Resolver
	allowed func(netip.Addr) bool
	c       *cache
	sum     Summary
	tracked map[netip.Addr]*TopAddress

	lines []pendingLine
	addrs []pendingAddr
	need  []netip.Addr
	asked map[netip.Addr]bool
}

// pendingLine is a line of the batch: its addresses are addrs[from:to].
type pendingLine struct {
	number   int64
	time     time.Time
	from, to int
}

// pendingAddr is an address of the batch, with its verdict when the cache
// had it.
type pendingAddr struct {
	logscan.Address
	info *Info
}

// Batch bounds.
const (
	batchLines   = 8192
	batchResolve = 512
)

// New returns a Hunter resolving through r.
func New(r Resolver) *Hunter {
	allowed := func(netip.Addr) bool { return false }
	if a, ok := r.(interface{ Allowed(netip.Addr) bool }); ok {
		allowed = a.Allowed
	}
	return &Hunter{
		r:       r,
		allowed: allowed,
		c:       newCache(CacheSize),
		sum:     Summary{ByVerdict: map[string]int64{lookup.VerdictListed: 0, lookup.VerdictInNetblock: 0}},
		tracked: map[netip.Addr]*TopAddress{},
		asked:   map[netip.Addr]bool{},
	}
}

// Hunt reads every line of sc, resolves each address (cached) and calls
// onHit for each hit, in log order. It stops at the first error, of the
// log, of the resolver or of onHit, and when ctx ends.
func (h *Hunter) Hunt(ctx context.Context, sc *logscan.Scanner, onHit func(*Hit) error) error {
	start := h.sum.Lines
	defer func() { h.sum.Lines = start + sc.Lines() }()
	h.lines, h.addrs, h.need = h.lines[:0], h.addrs[:0], h.need[:0]
	clear(h.asked)
	for sc.Next() {
		if sc.Lines()%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("match log: %w", ctx.Err())
		}
		l := sc.Line()
		from := len(h.addrs)
		for _, a := range l.Addrs {
			h.sum.Addresses++
			// Allow-listed addresses (the log's own network, mostly)
			// are answered before the cache, which they would churn.
			if h.allowed(a.Addr) {
				h.sum.Whitelisted++
				continue
			}
			info, ok := h.c.get(a.Addr)
			if ok {
				h.sum.Cached++
			} else if !h.asked[a.Addr] {
				h.asked[a.Addr] = true
				h.need = append(h.need, a.Addr)
			}
			h.addrs = append(h.addrs, pendingAddr{a, info})
		}
		if len(h.addrs) > from {
			h.lines = append(h.lines, pendingLine{l.Number, l.Time, from, len(h.addrs)})
		}
		if len(h.lines) >= batchLines || len(h.need) >= batchResolve {
			if err := h.flush(ctx, onHit); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("match log: %w", err)
	}
	return h.flush(ctx, onHit)
}

// flush resolves the addresses the batch misses, then reports its hits.
func (h *Hunter) flush(ctx context.Context, onHit func(*Hit) error) error {
	if len(h.need) > 0 {
		infos, err := h.r.ResolveMany(ctx, h.need)
		if err != nil {
			return fmt.Errorf("match log line %d: %w", h.lines[0].number, err)
		}
		for i, a := range h.need {
			h.c.put(a, infos[i])
		}
		h.sum.Resolved += int64(len(h.need))
	}
	var hit Hit
	for _, l := range h.lines {
		for _, a := range h.addrs[l.from:l.to] {
			info := a.info
			if info == nil {
				var ok bool
				if info, ok = h.c.get(a.Addr); !ok { // cannot happen: the cache is larger than a batch
					infos, err := h.r.ResolveMany(ctx, []netip.Addr{a.Addr})
					if err != nil {
						return fmt.Errorf("match log line %d: %w", l.number, err)
					}
					info = h.c.put(a.Addr, infos[0])
				}
			}
			if err := h.count(&hit, l, a.Address, info, onHit); err != nil {
				return err
			}
		}
	}
	h.lines, h.addrs, h.need = h.lines[:0], h.addrs[:0], h.need[:0]
	clear(h.asked)
	return nil
}

// count adds one resolved address to the summary and reports it if a hit.
func (h *Hunter) count(hit *Hit, l pendingLine, a logscan.Address, info *Info, onHit func(*Hit) error) error {
	sum := &h.sum
	switch {
	case info.Verdict == VerdictWhitelisted:
		sum.Whitelisted++
		return nil
	case !info.Hit():
		sum.Unknown++
		return nil
	}
	sum.Hits++
	sum.ByVerdict[info.Verdict]++
	if t := h.tracked[a.Addr]; t != nil {
		t.Hits++
	} else if len(h.tracked) < MaxTracked {
		h.tracked[a.Addr] = &TopAddress{Addr: a.Addr, Hits: 1, Verdict: info.Verdict}
	} else {
		sum.TopApproximate = true
	}
	*hit = Hit{Line: l.number, Time: l.time, Addr: a.Addr, Field: a.Field, Info: info}
	switch d, ok := hit.DaysAfterPrediction(); {
	case !ok:
		sum.Undated++
	case d >= 0:
		sum.AfterPrediction++
		if info.ConfirmedAt.IsZero() || l.time.Before(info.ConfirmedAt) {
			sum.BeforeConfirmation++
		}
	default:
		sum.BeforePrediction++
	}
	if onHit != nil {
		return onHit(hit)
	}
	return nil
}

// Summary returns the summary of every log hunted so far.
func (h *Hunter) Summary() Summary {
	s := h.sum
	s.ByVerdict = maps.Clone(s.ByVerdict)
	s.HitAddresses = int64(len(h.tracked))
	s.Top = top(h.tracked, TopN)
	return s
}

func top(tracked map[netip.Addr]*TopAddress, n int) []TopAddress {
	out := make([]TopAddress, 0, min(n, len(tracked)))
	for _, t := range tracked {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TopAddress) int {
		if c := cmp.Compare(b.Hits, a.Hits); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// cache remembers verdicts in two generations: lookups fill the current
// one; when it is full it becomes the previous one and the one before is
// dropped. An address found in the previous generation moves to the
// current one, so addresses seen often stay, and memory is bounded by
// twice the size, per address family. IPv4 addresses, nearly every one a
// log holds, are keyed by their 32 bits: a map of uint32 hashes and
// compares its keys faster than one of netip.Addr (24 bytes), and the
// cache is asked once per address of the log.
type cache struct {
	v4 generations[uint32]
	v6 generations[netip.Addr]
}

func newCache(size int) *cache {
	return &cache{v4: newGenerations[uint32](size), v6: newGenerations[netip.Addr](size)}
}

func (c *cache) get(a netip.Addr) (*Info, bool) {
	if a.Is4() {
		return c.v4.get(v4Key(a))
	}
	return c.v6.get(a)
}

// len is how many verdicts the cache holds.
func (c *cache) len() int {
	return len(c.v4.cur) + len(c.v4.prev) + len(c.v6.cur) + len(c.v6.prev)
}

func v4Key(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// generations is one address family's two generations.
type generations[K comparable] struct {
	cur, prev map[K]*Info
	size      int
}

func newGenerations[K comparable](size int) generations[K] {
	return generations[K]{cur: map[K]*Info{}, prev: map[K]*Info{}, size: size}
}

func (g *generations[K]) get(k K) (*Info, bool) {
	if v, ok := g.cur[k]; ok {
		return v, true
	}
	if v, ok := g.prev[k]; ok {
		g.add(k, v)
		return v, true
	}
	return nil, false
}

func (g *generations[K]) add(k K, v *Info) {
	if len(g.cur) >= g.size {
		g.prev, g.cur = g.cur, make(map[K]*Info, g.size)
	}
	g.cur[k] = v
}

func (c *cache) put(a netip.Addr, in Info) *Info {
	v := shared(&in)
	if v == nil {
		v = &in
	}
	c.add(a, v)
	return v
}

// Most addresses of a log are unknown to the store, or allow-listed, and
// their verdicts carry nothing else: they share one Info each, instead of
// one allocation per address, which Hunter.count then reads from one
// cached line of memory rather than from all over the heap.
var (
	unknownInfo     = Info{Verdict: lookup.VerdictUnknown}
	whitelistedInfo = Info{Verdict: VerdictWhitelisted}
)

// shared returns the shared Info equal to in, nil when none is.
func shared(in *Info) *Info {
	if in.Feeds != nil || in.HasImportance || in.Importance != 0 || !in.PredictedAt.IsZero() ||
		in.Netblock.IsValid() || !in.ConfirmedAt.IsZero() {
		return nil
	}
	switch in.Verdict {
	case lookup.VerdictUnknown:
		return &unknownInfo
	case VerdictWhitelisted:
		return &whitelistedInfo
	}
	return nil
}

func (c *cache) add(a netip.Addr, v *Info) {
	if a.Is4() {
		c.v4.add(v4Key(a), v)
		return
	}
	c.v6.add(a, v)
}

// Lookups is the lookup service, as a resolver reads it
// (*lookup.Service): the predicted netblocks containing an address.
type Lookups interface {
	Containing(addr netip.Addr) []lookup.Summary
}

// Indicators reads many indicators at once (*store.Store).
type Indicators interface {
	LookupMany(ctx context.Context, addrs []netip.Addr) ([]indicator.Indicator, error)
	// Confirmations returns when a list feed first listed each of addrs
	// that one ever listed.
	Confirmations(ctx context.Context, addrs []netip.Addr) (map[netip.Addr]time.Time, error)
}

// StoreResolver resolves addresses through the store, its netblock index
// and the allow-list.
type StoreResolver struct {
	Indicators Indicators
	Lookups    Lookups
	// Allow holds the allow-list and the special-purpose ranges.
	Allow *allowlist.Matcher
}

// Allowed reports whether addr is allow-listed; the Hunter asks it before
// its cache.
func (r *StoreResolver) Allowed(addr netip.Addr) bool { return r.Allow.Contains(addr) }

// ResolveMany returns what the store says about each of addrs, reading
// their indicators with one query per few hundred addresses.
func (r *StoreResolver) ResolveMany(ctx context.Context, addrs []netip.Addr) ([]Info, error) {
	inds, err := r.Indicators.LookupMany(ctx, addrs)
	if err != nil {
		return nil, err
	}
	listed := make(map[netip.Addr]*indicator.Indicator, len(inds))
	var predicted []netip.Addr
	for i := range inds {
		listed[inds[i].Addr] = &inds[i]
		if inds[i].Attr(indicator.AttrPredictedAt).Kind != indicator.KindNone {
			predicted = append(predicted, inds[i].Addr)
		}
	}
	// Only a prediction has a confirmation to compare a hit with.
	confirmed, err := r.Indicators.Confirmations(ctx, predicted)
	if err != nil {
		return nil, err
	}
	out := make([]Info, len(addrs))
	for i, a := range addrs {
		if r.Allow.Contains(a) {
			out[i] = Info{Verdict: VerdictWhitelisted}
			continue
		}
		a = a.Unmap()
		nbs := r.Lookups.Containing(a)
		in := Info{Verdict: lookup.VerdictUnknown}
		if len(nbs) > 0 {
			in.Netblock = nbs[0].Netblock
		}
		if ind := listed[a]; ind != nil {
			in.Verdict = lookup.VerdictListed
			if err := listedInfo(&in, ind); err != nil {
				return nil, err
			}
			if in.Verdict == lookup.VerdictListed {
				in.ConfirmedAt = confirmed[a]
			}
		} else if len(nbs) > 0 {
			// Netblocks are Seclytics' predictions: it is the only
			// feed that predicts netblocks.
			in.Verdict, in.Feeds = lookup.VerdictInNetblock, []string{indicator.SourceSeclytics}
			if p := nbs[0].MaxImportance; p != nil {
				in.Importance, in.HasImportance = *p, true
			}
		}
		out[i] = in
	}
	return out, nil
}

func listedInfo(in *Info, ind *indicator.Indicator) error {
	if ind.Status == indicator.StatusWhitelisted {
		*in = Info{Verdict: VerdictWhitelisted}
		return nil
	}
	in.Feeds = slices.Clip(ind.Sources)
	v, err := ind.Want(indicator.AttrImportance, indicator.KindNumber)
	if err != nil {
		return err
	}
	if f, ok := v.AsNumber(); ok {
		in.Importance, in.HasImportance = f, true
	}
	if v, err = ind.Want(indicator.AttrPredictedAt, indicator.KindDate); err != nil {
		return err
	}
	if t, ok := v.AsTime(); ok {
		in.PredictedAt = t
	}
	return nil
}

// ResolverSource is the store, as NewStoreResolver reads it.
type ResolverSource interface {
	Indicators
	EachNetblockImportance(ctx context.Context, fn func(store.NetblockImportance) error) error
	AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
}

// NewStoreResolver reads the allow-list and builds the netblock index of
// src, for a hunt that asks about many addresses.
func NewStoreResolver(ctx context.Context, src ResolverSource) (*StoreResolver, error) {
	entries, err := src.AllowlistEntries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the allow-list: %w", err)
	}
	nbs, err := readNetblocks(ctx, src)
	if err != nil {
		return nil, err
	}
	// Special-purpose ranges always: a private address in a log is never
	// a threat finding, whatever the feed's setting.
	return &StoreResolver{Indicators: src, Lookups: nbs, Allow: allowlist.NewMatcher(entries, true)}, nil
}

// netblocks is the predicted netblocks of a store with the highest
// Importance of each: the part of the lookup index (lookup.Index) that a
// match reads, built from one row per netblock instead of one per
// indicator (store.EachNetblockImportance). Its summaries carry only
// Netblock and MaxImportance.
type netblocks struct {
	t bart.Table[*lookup.Summary]
}

func readNetblocks(ctx context.Context, src ResolverSource) (*netblocks, error) {
	nbs := &netblocks{}
	err := src.EachNetblockImportance(ctx, func(n store.NetblockImportance) error {
		// As lookup.Build: a netblock too wide to mean anything is not
		// a prediction about its addresses.
		if indicator.NetblockTooWide(n.Netblock) {
			return nil
		}
		s := &lookup.Summary{Netblock: n.Netblock}
		if n.HasImportance {
			imp := n.MaxImportance
			s.MaxImportance = &imp
		}
		nbs.t.Insert(n.Netblock, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build netblock index: %w", err)
	}
	return nbs, nil
}

// Containing returns the netblocks holding addr, most specific first, as
// lookup.Index.Containing does.
func (n *netblocks) Containing(addr netip.Addr) []lookup.Summary {
	var out []lookup.Summary
	addr = addr.Unmap().WithZone("")
	for _, s := range n.t.Supernets(netip.PrefixFrom(addr, addr.BitLen())) {
		out = append(out, *s)
	}
	return out
}
