package export

import (
	"container/heap"
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// selected is one indicator an export writes, with what the formats derive
// from its attributes parsed once.
type selected struct {
	ind        *indicator.Indicator
	addr       netip.Addr
	netblock   netip.Prefix // invalid when unknown
	importance float64      // -1 when missing
	lastSeen   time.Time
}

// each calls fn for every indicator of src that o selects for format f, in
// address order. With o.Max it keeps the Max best in a bounded heap and
// calls fn for them, in address order, at the end.
func each(ctx context.Context, src Source, f Format, o Options, fn func(*selected) error) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	at := now()
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
		}
		if !o.UpdatedSince.IsZero() && ind.UpdatedAt.Before(o.UpdatedSince) {
			return nil
		}
		if len(o.Sources) > 0 && !slices.ContainsFunc(ind.Sources, func(s string) bool {
			return slices.ContainsFunc(o.Sources, func(want string) bool { return strings.EqualFold(strings.TrimSpace(want), s) })
		}) {
			return nil
		}
		s := selected{ind: ind, netblock: nb, importance: -1}
		hasCat := len(cats) == 0
		for i := range ind.Attributes {
			a := &ind.Attributes[i]
			switch a.Name {
			case indicator.AttrImportance:
				if v, err := strconv.ParseFloat(a.Value, 64); err == nil {
					s.importance = v
				}
			case indicator.AttrLastSeenAt:
				s.lastSeen, _ = time.Parse(time.RFC3339, a.Value)
			case indicator.AttrPredictedNetblock:
				if !s.netblock.IsValid() {
					s.netblock, _ = netip.ParsePrefix(a.Value)
				}
			case indicator.AttrDetectedCategories:
				if !hasCat && slices.Contains(cats, strings.ToLower(a.Value)) {
					hasCat = true
				}
			}
		}
		if indicator.NetblockTooWide(s.netblock) {
			s.netblock = netip.Prefix{} // stored before netblocks were checked
		}
		if !hasCat {
			return nil
		}
		if o.MinImportance != nil && (s.importance < 0 || s.importance < *o.MinImportance) {
			return nil
		}
		var err error
		if s.addr, err = netip.ParseAddr(ind.Value); err != nil {
			return nil // not an address: nothing a consumer could use
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

// better reports whether a ranks before b in a budget: higher importance,
// then newer Last Seen At, then lower address.
func better(a, b *selected) bool {
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

// values calls fn for each value of the attribute name of ind, in order.
func values(ind *indicator.Indicator, name string, fn func(string)) {
	for i := range ind.Attributes {
		if ind.Attributes[i].Name == name {
			fn(ind.Attributes[i].Value)
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
