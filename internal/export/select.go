package export

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
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
	// confidence is the combined confidence, -1 when none.
	confidence int
	// rank is what a budget ranks by (Filter.Rank).
	rank string
}

// selector is what each checks every indicator against: o's filters for
// format f, read once.
type selector struct {
	f        Format
	o        *Options
	at       time.Time
	statuses []indicator.Status
	cats     []string
	allowed  *allowlist.Matcher
}

func newSelector(ctx context.Context, src Source, f Format, o *Options) (*selector, error) {
	sel := &selector{f: f, o: o, at: o.now(), statuses: o.Statuses}
	if len(sel.statuses) == 0 {
		sel.statuses = []indicator.Status{indicator.StatusActive}
	}
	for _, c := range o.Categories {
		if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
			sel.cats = append(sel.cats, c)
		}
	}
	if f.Blocklist() {
		var err error
		if sel.allowed, err = allowedBy(ctx, src); err != nil {
			return nil, err
		}
	}
	return sel, nil
}

// pick reports whether ind passes the filters, with what the formats
// derive from it.
func (sel *selector) pick(ind *indicator.Indicator, nb netip.Prefix) (selected, bool, error) {
	o := sel.o
	if !slices.Contains(sel.statuses, ind.Status) {
		return selected{}, false, nil
	}
	if sel.f.Blocklist() {
		if ind.Status == indicator.StatusWhitelisted {
			return selected{}, false, nil
		}
		if ind.ExpiresAt != nil && !ind.ExpiresAt.After(sel.at) {
			return selected{}, false, nil
		}
		if sel.allowed != nil && sel.allowed.Contains(ind.Addr) {
			return selected{}, false, nil
		}
		// A network is blocked whole or not at all: one that overlaps
		// the allow-list is left out.
		if ind.Prefix.IsValid() && sel.allowed != nil && sel.allowed.Overlaps(ind.Prefix) {
			return selected{}, false, nil
		}
	}
	// A budget ranks addresses, as the store's ranked reads do (a
	// network's rank would weigh one entry against thousands of
	// addresses): networks are listed without one.
	if ind.Prefix.IsValid() && (!sel.f.Networks() || o.Max > 0) {
		return selected{}, false, nil
	}
	if !o.UpdatedSince.IsZero() && ind.UpdatedAt.Before(o.UpdatedSince) {
		return selected{}, false, nil
	}
	if len(o.Sources) > 0 && !slices.ContainsFunc(ind.Sources, func(s string) bool {
		return slices.ContainsFunc(o.Sources, func(want string) bool { return strings.EqualFold(strings.TrimSpace(want), s) })
	}) {
		return selected{}, false, nil
	}
	if o.Feed != "" && !ind.ListedBy(o.Feed) {
		return selected{}, false, nil
	}
	if len(o.Feeds) > 0 && !slices.ContainsFunc(o.Feeds, ind.ListedBy) {
		return selected{}, false, nil
	}
	if o.MinSources > 0 && ind.ListingSources() < o.MinSources {
		return selected{}, false, nil
	}
	if o.MinConfidence != nil && (ind.Confidence == nil || *ind.Confidence < *o.MinConfidence) {
		return selected{}, false, nil
	}
	s, hasCat, err := derive(ind, nb, sel.cats)
	if err != nil || !hasCat {
		return s, false, err
	}
	s.rank = o.rankBy()
	if o.MinImportance != nil && (!s.hasImportance || s.importance < *o.MinImportance) {
		return s, false, nil
	}
	return s, true, nil
}

// each calls fn for every indicator of src that o selects for format f, in
// address order. With o.Max it calls fn for the Max best, in address
// order, at the end: read best first through the store's ranking index
// when src has one and the budget ranks Active indicators (ranked), else
// kept in a bounded heap over every indicator.
func each(ctx context.Context, src Source, f Format, o Options, fn func(*selected) error) error {
	sel, err := newSelector(ctx, src, f, &o)
	if err != nil {
		return err
	}
	emit := fn
	if o.written != nil {
		emit = func(s *selected) error {
			*o.written++
			return fn(s)
		}
	}
	if rs, ok := src.(RankedSource); ok && o.Max > 0 && sel.activeOnly() {
		return sel.ranked(ctx, rs, emit)
	}
	var top *topN
	if o.Max > 0 {
		top = &topN{max: o.Max}
	}
	visit := func(ind *indicator.Indicator, nb netip.Prefix) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, ok, err := sel.pick(ind, nb)
		if err != nil || !ok {
			return err
		}
		if top != nil {
			top.offer(&s)
			return nil
		}
		return emit(&s)
	}
	if ns, ok := src.(NetblockSource); ok {
		err = ns.EachIndicatorNetblock(ctx, visit)
	} else {
		err = src.EachIndicator(ctx, func(ind *indicator.Indicator) error { return visit(ind, netip.Prefix{}) })
	}
	if err != nil || top == nil {
		return err
	}
	return emitByAddress(ctx, top.h, emit)
}

// emitByAddress calls emit for each of a budget's kept indicators in
// address order, the order every format writes.
func emitByAddress(ctx context.Context, kept []*selected, emit func(*selected) error) error {
	slices.SortFunc(kept, func(a, b *selected) int { return compareKeys(a.addr, b.addr) })
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

// better reports whether a ranks before b in a budget, in the order of
// the store's ranking indexes (so a ranked read and the heap agree): the
// higher rank value first (importance or combined confidence, none last;
// or the latest change), ties by address, the higher first.
func better(a, b *selected) bool {
	switch a.rank {
	case RankRecency:
		if !a.ind.UpdatedAt.Equal(b.ind.UpdatedAt) {
			return a.ind.UpdatedAt.After(b.ind.UpdatedAt)
		}
	case RankConfidence:
		if a.confidence != b.confidence {
			return a.confidence > b.confidence
		}
	default:
		ai, bi := -1.0, -1.0
		if a.hasImportance {
			ai = a.importance
		}
		if b.hasImportance {
			bi = b.importance
		}
		if ai != bi {
			return ai > bi
		}
	}
	return compareKeys(a.addr, b.addr) > 0
}

// compareKeys orders addresses as the store keys them: 16 bytes, IPv4
// mapped.
func compareKeys(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	// As bytes.Compare, two words at a time: sorting a 1M budget's
	// addresses spent a fifth of its time here.
	if c := cmp.Compare(binary.BigEndian.Uint64(x[:8]), binary.BigEndian.Uint64(y[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(x[8:]), binary.BigEndian.Uint64(y[8:]))
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

// appendJoined appends to dst the values of the attribute name of ind
// joined with sep, as joined writes them (an empty item adds no
// separator before the first non-empty one).
func appendJoined(dst []byte, ind *indicator.Indicator, name, sep string) []byte {
	start := len(dst)
	for i := range ind.Attributes {
		a := &ind.Attributes[i]
		if a.Name != name {
			continue
		}
		switch a.Value.Kind {
		case indicator.KindNone:
		case indicator.KindList:
			for _, v := range a.Value.List {
				if len(dst) > start {
					dst = append(dst, sep...)
				}
				dst = append(dst, v...)
			}
		default:
			if len(dst) > start {
				dst = append(dst, sep...)
			}
			dst = a.Value.AppendText(dst)
		}
	}
	return dst
}

// appendPart appends label and the values of the attribute name of ind
// joined with sep (appendJoined) to dst, after "; " unless dst has
// nothing past start: one part of a description. It appends nothing when
// the values are empty.
func appendPart(dst []byte, start int, label string, ind *indicator.Indicator, name, sep string) []byte {
	mark := len(dst)
	if mark > start {
		dst = append(dst, "; "...)
	}
	dst = append(dst, label...)
	v := len(dst)
	if dst = appendJoined(dst, ind, name, sep); len(dst) == v {
		return dst[:mark]
	}
	return dst
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
