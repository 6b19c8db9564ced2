package retrohunt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"time"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
	"forewarn/internal/logscan"
	"forewarn/internal/lookup"
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
}

// Hit reports whether the verdict is a hit: listed or in a predicted
// netblock.
func (in *Info) Hit() bool {
	return in.Verdict == lookup.VerdictListed || in.Verdict == lookup.VerdictInNetblock
}

// Resolver says what the store knows about an address.
type Resolver interface {
	Resolve(ctx context.Context, addr netip.Addr) (Info, error)
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
type Hunter struct {
	r       Resolver
	allowed func(netip.Addr) bool
	c       *cache
	sum     Summary
	tracked map[netip.Addr]*TopAddress
}

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
	}
}

// Hunt reads every line of sc, resolves each address (cached) and calls
// onHit for each hit, in log order. It stops at the first error, of the
// log, of the resolver or of onHit, and when ctx ends.
func (h *Hunter) Hunt(ctx context.Context, sc *logscan.Scanner, onHit func(*Hit) error) error {
	sum := &h.sum
	start := sum.Lines
	defer func() { sum.Lines = start + sc.Lines() }()
	var hit Hit
	for sc.Next() {
		if sc.Lines()%4096 == 0 && ctx.Err() != nil {
			return fmt.Errorf("match log: %w", ctx.Err())
		}
		l := sc.Line()
		for _, a := range l.Addrs {
			sum.Addresses++
			// Allow-listed addresses (the log's own network, mostly)
			// are answered before the cache, which they would churn.
			if h.allowed(a.Addr) {
				sum.Whitelisted++
				continue
			}
			info, ok := h.c.get(a.Addr)
			if ok {
				sum.Cached++
			} else {
				v, err := h.r.Resolve(ctx, a.Addr)
				if err != nil {
					return fmt.Errorf("match log line %d: %w", l.Number, err)
				}
				sum.Resolved++
				info = h.c.put(a.Addr, v)
			}
			switch {
			case info.Verdict == VerdictWhitelisted:
				sum.Whitelisted++
				continue
			case !info.Hit():
				sum.Unknown++
				continue
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
			hit = Hit{Line: l.Number, Time: l.Time, Addr: a.Addr, Field: a.Field, Info: info}
			switch d, ok := hit.DaysAfterPrediction(); {
			case !ok:
				sum.Undated++
			case d >= 0:
				sum.AfterPrediction++
			default:
				sum.BeforePrediction++
			}
			if onHit != nil {
				if err := onHit(&hit); err != nil {
					return err
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("match log: %w", err)
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
// twice the size.
type cache struct {
	cur, prev map[netip.Addr]*Info
	size      int
}

func newCache(size int) *cache {
	return &cache{cur: make(map[netip.Addr]*Info, size), prev: map[netip.Addr]*Info{}, size: size}
}

func (c *cache) get(a netip.Addr) (*Info, bool) {
	if v, ok := c.cur[a]; ok {
		return v, true
	}
	if v, ok := c.prev[a]; ok {
		c.add(a, v)
		return v, true
	}
	return nil, false
}

func (c *cache) put(a netip.Addr, in Info) *Info {
	v := &in
	c.add(a, v)
	return v
}

func (c *cache) add(a netip.Addr, v *Info) {
	if len(c.cur) >= c.size {
		c.prev, c.cur = c.cur, make(map[netip.Addr]*Info, c.size)
	}
	c.cur[a] = v
}

// The store, as a resolver reads it.
type (
	// Lookups answers for one address (*lookup.Service).
	Lookups interface {
		Lookup(ctx context.Context, addr netip.Addr) (lookup.Result, error)
	}
)

// StoreResolver resolves addresses through the lookup service and the
// allow-list.
type StoreResolver struct {
	Lookups Lookups
	// Allow holds the allow-list and the special-purpose ranges.
	Allow *allowlist.Matcher
}

// Allowed reports whether addr is allow-listed; the Hunter asks it before
// its cache.
func (r *StoreResolver) Allowed(addr netip.Addr) bool { return r.Allow.Contains(addr) }

// Resolve returns what the store says about addr.
func (r *StoreResolver) Resolve(ctx context.Context, addr netip.Addr) (Info, error) {
	if r.Allow.Contains(addr) {
		return Info{Verdict: VerdictWhitelisted}, nil
	}
	res, err := r.Lookups.Lookup(ctx, addr)
	if err != nil {
		return Info{}, err
	}
	in := Info{Verdict: res.Verdict}
	if len(res.Netblocks) > 0 {
		in.Netblock = res.Netblocks[0].Netblock
	}
	switch res.Verdict {
	case lookup.VerdictListed:
		ind := res.Indicator
		if ind == nil {
			return Info{}, errors.New("a listed lookup without its indicator")
		}
		if ind.Status == indicator.StatusWhitelisted {
			return Info{Verdict: VerdictWhitelisted}, nil
		}
		in.Feeds = slices.Clip(ind.Sources)
		if v, err := ind.Want(indicator.AttrImportance, indicator.KindNumber); err != nil {
			return Info{}, err
		} else if f, ok := v.AsNumber(); ok {
			in.Importance, in.HasImportance = f, true
		}
		if v, err := ind.Want(indicator.AttrPredictedAt, indicator.KindDate); err != nil {
			return Info{}, err
		} else if t, ok := v.AsTime(); ok {
			in.PredictedAt = t
		}
	case lookup.VerdictInNetblock:
		// Netblocks are Seclytics' predictions: it is the only feed
		// that predicts netblocks.
		in.Feeds = []string{indicator.SourceSeclytics}
		if p := res.Netblocks[0].MaxImportance; p != nil {
			in.Importance, in.HasImportance = *p, true
		}
	}
	return in, nil
}

// ResolverSource is the store, as NewStoreResolver reads it.
type ResolverSource interface {
	lookup.Source
	AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
}

// NewStoreResolver reads the allow-list and builds the netblock index of
// src, for a hunt that asks about many addresses.
func NewStoreResolver(ctx context.Context, src ResolverSource) (*StoreResolver, error) {
	entries, err := src.AllowlistEntries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the allow-list: %w", err)
	}
	svc := lookup.NewService(src)
	if err := svc.Rebuild(ctx); err != nil {
		return nil, err
	}
	// Special-purpose ranges always: a private address in a log is never
	// a threat finding, whatever the feed's setting.
	return &StoreResolver{Lookups: svc, Allow: allowlist.NewMatcher(entries, true)}, nil
}
