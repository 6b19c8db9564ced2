package export

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
)

// selected is one indicator an export writes, with what the formats derive
// from its attributes parsed once.
type selected struct {
	ind  *indicator.Indicator
	addr netip.Addr
	// network is the network of a network indicator (a list feed's CIDR
	// entry); invalid for an address.
	network       netip.Prefix
	netblock      netip.Prefix // invalid when unknown
	importance    float64
	hasImportance bool
	lastSeen      time.Time // zero when unknown
	// confidence is the combined confidence, -1 when none; byConfidence
	// ranks a budget by it first (Filter.Rank).
	confidence   int
	byConfidence bool
}

// each calls fn for every indicator of src that o selects for format f, in
// address order. With o.Max it keeps the Max best in a bounded heap and
// calls fn for them, in address order, at the end.
func each(ctx context.Context, src Source, f Format, o Options, fn func(*selected) error) error {
	at := o.now()
	statuses := o.Statuses
	if len(statuses) == 0 {
		statuses = []indicator.Status{indicator.StatusActive}
	}
	cats := make([]string, 0, len(o.Categories))
	for _, c := range o.Categories {
		if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
			cats = append(cats, c)
		}
	}
	emit := fn
	if o.written != nil {
		emit = func(s *selected) error {
			*o.written++
			return fn(s)
		}
	}
	var top *topN
	if o.Max > 0 {
		top = &topN{max: o.Max}
	}
	var allowed *allowlist.Matcher
	if f.Blocklist() {
		var err error
		if allowed, err = allowedBy(ctx, src); err != nil {
			return err
		}
	}
	visit := func(ind *indicator.Indicator, nb netip.Prefix) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !slices.Contains(statuses, ind.Status) {
			return nil
		}
		if f.Blocklist() {
			if ind.Status == indicator.StatusWhitelisted {
				return nil
			}
			if ind.ExpiresAt != nil && !ind.ExpiresAt.After(at) {
				return nil
			}
			if allowed != nil && allowed.Contains(ind.Addr) {
				return nil
			}
			// A network is blocked whole or not at all: one that overlaps
			// the allow-list is left out.
			if ind.Prefix.IsValid() && allowed != nil && allowed.Overlaps(ind.Prefix) {
				return nil
			}
		}
		// A budget ranks addresses, as the store's ranked reads do (a
		// network's rank would weigh one entry against thousands of
		// addresses): networks are listed without one.
		if ind.Prefix.IsValid() && (!f.Networks() || o.Max > 0) {
			return nil
		}
		if !o.UpdatedSince.IsZero() && ind.UpdatedAt.Before(o.UpdatedSince) {
			return nil
		}
		if len(o.Sources) > 0 && !slices.ContainsFunc(ind.Sources, func(s string) bool {
			return slices.ContainsFunc(o.Sources, func(want string) bool { return strings.EqualFold(strings.TrimSpace(want), s) })
		}) {
			return nil
		}
		if o.Feed != "" && !ind.ListedBy(o.Feed) {
			return nil
		}
		if len(o.Feeds) > 0 && !slices.ContainsFunc(o.Feeds, ind.ListedBy) {
			return nil
		}
		if o.MinSources > 0 && ind.ListingSources() < o.MinSources {
			return nil
		}
		if o.MinConfidence != nil && (ind.Confidence == nil || *ind.Confidence < *o.MinConfidence) {
			return nil
		}
		s, hasCat, err := derive(ind, nb, cats)
		if err != nil || !hasCat {
			return err
		}
		s.byConfidence = o.Rank == RankConfidence
		if o.MinImportance != nil && (!s.hasImportance || s.importance < *o.MinImportance) {
			return nil
		}
		if top != nil {
			top.offer(&s)
			return nil
		}
		return emit(&s)
	}
	var err error
	if ns, ok := src.(NetblockSource); ok {
		err = ns.EachIndicatorNetblock(ctx, visit)
	} else {
		err = src.EachIndicator(ctx, func(ind *indicator.Indicator) error { return visit(ind, netip.Prefix{}) })
	}
	if err != nil || top == nil {
		return err
	}
	kept := top.h
	slices.SortFunc(kept, func(a, b *selected) int { return a.addr.Compare(b.addr) })
	for _, s := range kept {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := emit(s); err != nil {
			return err
		}
	}
	return nil
}

// allowedBy is the allow-list of src, if it offers one (nil otherwise): a
// blocklist applies it as it renders, whatever the stored statuses say, so
// an entry added since the last run (or by another process) already keeps
// its addresses off the next fetch.
func allowedBy(ctx context.Context, src any) (*allowlist.Matcher, error) {
	as, ok := src.(AllowlistSource)
	if !ok {
		return nil, nil
	}
	entries, err := as.AllowlistEntries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the allow-list: %w", err)
	}
	return allowlist.NewMatcher(entries, false), nil
}

// ErrBadIndicator means the source handed an export an indicator it cannot
// write: no address, or an attribute whose value is of another kind than
// the one the exports read it as. The store never does; a new feed or
// source that did would be a bug to fix there.
var ErrBadIndicator = errors.New("export: malformed indicator")

// derive reads, from ind's typed attributes, what the formats rank and
// filter by, and whether ind has one of the categories cats (any, when
// cats is empty). nb is the source's lookup netblock, preferred to the
// Predicted Netblock attribute.
func derive(ind *indicator.Indicator, nb netip.Prefix, cats []string) (selected, bool, error) {
	s := selected{ind: ind, addr: ind.Addr, network: ind.Prefix, netblock: nb}
	if !ind.Addr.IsValid() {
		return s, false, fmt.Errorf("%w: status %s: %w", ErrBadIndicator, ind.Status, indicator.ErrNoAddress)
	}
	imp, err1 := ind.Want(indicator.AttrImportance, indicator.KindNumber)
	seen, err2 := ind.Want(indicator.AttrLastSeenAt, indicator.KindDate)
	pnb, err3 := ind.Want(indicator.AttrPredictedNetblock, indicator.KindCIDR)
	if err := errors.Join(err1, err2, err3); err != nil {
		return s, false, fmt.Errorf("%w: %w", ErrBadIndicator, err)
	}
	s.importance, s.hasImportance = imp.AsNumber()
	s.confidence = -1
	if ind.Confidence != nil {
		s.confidence = *ind.Confidence
	}
	s.lastSeen, _ = seen.AsTime() // absent: the zero time, which ranks last
	if p, ok := pnb.AsPrefix(); ok && !s.netblock.IsValid() {
		s.netblock = p
	}
	hasCat := len(cats) == 0
	for i := range ind.Attributes {
		if a := &ind.Attributes[i]; !hasCat && a.Name == indicator.AttrDetectedCategories {
			hasCat = slices.ContainsFunc(a.Value.Items(), func(v string) bool { return slices.Contains(cats, strings.ToLower(v)) })
		}
	}
	if indicator.NetblockTooWide(s.netblock) {
		s.netblock = netip.Prefix{} // stored before netblocks were checked
	}
	return s, hasCat, nil
}

// better reports whether a ranks before b in a budget: higher importance,
// then newer Last Seen At, then lower address; ranked by confidence,
// higher combined confidence (none last) before all of those.
func better(a, b *selected) bool {
	if a.byConfidence && a.confidence != b.confidence {
		return a.confidence > b.confidence
	}
	if a.hasImportance != b.hasImportance {
		return a.hasImportance
	}
	if a.importance != b.importance {
		return a.importance > b.importance
	}
	if !a.lastSeen.Equal(b.lastSeen) {
		return a.lastSeen.After(b.lastSeen)
	}
	return a.addr.Less(b.addr)
}

// topN keeps the max best indicators offered; its heap's root is the worst
// kept, so a better newcomer replaces it in O(log max).
type topN struct {
	max int
	h   worstFirst
}

func (t *topN) offer(s *selected) {
	if len(t.h) == t.max {
		if !better(s, t.h[0]) {
			return
		}
		t.h[0] = s.clone()
		heap.Fix(&t.h, 0)
		return
	}
	heap.Push(&t.h, s.clone())
}

// clone copies s and its indicator, which the source may reuse after the
// callback returns.
func (s *selected) clone() *selected {
	c := *s
	ind := *s.ind
	ind.Sources = slices.Clone(ind.Sources)
	ind.Attributes = slices.Clone(ind.Attributes)
	c.ind = &ind
	return &c
}

type worstFirst []*selected

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return better(h[j], h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(x any)        { *h = append(*h, x.(*selected)) }
func (h *worstFirst) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// values calls fn for each value of the attribute name of ind, as text, in
// order: a list once per item.
func values(ind *indicator.Indicator, name string, fn func(string)) {
	for i := range ind.Attributes {
		if ind.Attributes[i].Name == name {
			ind.Attributes[i].Value.Texts(fn)
		}
	}
}

// joined is the values of the attribute name of ind joined with sep.
func joined(ind *indicator.Indicator, name, sep string) string {
	var b strings.Builder
	values(ind, name, func(v string) {
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(v)
	})
	return b.String()
}

// entry is what a blocklist lists for s: its network, or its address as a
// single-address prefix.
func (s *selected) entry() netip.Prefix {
	if s.network.IsValid() {
		return s.network
	}
	return netip.PrefixFrom(s.addr, s.addr.BitLen())
}

// value is s as a format writes it: the address, or the network in CIDR
// notation.
func (s *selected) value() string {
	if s.network.IsValid() {
		return s.network.String()
	}
	return s.addr.String()
}

// appendValue appends value to b.
func (s *selected) appendValue(b []byte) []byte {
	if s.network.IsValid() {
		return s.network.AppendTo(b)
	}
	return s.addr.AppendTo(b)
}
