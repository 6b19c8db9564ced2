package export

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"time"

	"go4.org/netipx"

	"forewarn/internal/indicator"
)

// writeEDL writes a plain-text external dynamic list: one address, CIDR or
// netblock per line.
//
// Memory: addresses stream, and with Aggregate they are merged into ranges
// as they come (they arrive in address order), so memory stays constant.
// Netblocks are collected as a set of the distinct netblocks, O(distinct
// netblocks); with Aggregate too, in a netipx.IPSetBuilder compacted every
// 64Ki netblocks, O(disjoint ranges).
//
// Every range (an aggregate or a netblock) is written minus the parts that
// overlap the allow-list or a special-purpose range (see denied).
func writeEDL(ctx context.Context, w io.Writer, src Source, o Options) error {
	line := make([]byte, 0, 64)
	put := func(s interface{ AppendTo([]byte) []byte }) error {
		line = append(s.AppendTo(line[:0]), '\n')
		_, err := w.Write(line)
		return err
	}
	// entries are the addresses and networks listed, in address order (a
	// network after the address it starts at).
	entries := func(fn func(netip.Prefix) error) error {
		return each(ctx, src, EDL, o, func(s *selected) error { return fn(s.entry()) })
	}
	if ls, ok := src.(ListedSource); ok && !o.Netblocks && o.plain() {
		entries = func(fn func(netip.Prefix) error) error { return listed(ctx, ls, o, fn) }
	}
	if !o.Netblocks && !o.Aggregate {
		return entries(func(p netip.Prefix) error {
			if p.IsSingleIP() {
				return put(p.Addr())
			}
			return put(p)
		})
	}
	deny, err := loadDenied(ctx, src)
	if err != nil {
		return err
	}
	var clipped []netip.Prefix
	putRange := func(r netipx.IPRange) error {
		clipped = deny.clip(clipped[:0], r)
		for _, p := range clipped {
			if err := put(p); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case !o.Netblocks:
		var cur netipx.IPRange
		flush := func() error {
			if !cur.IsValid() {
				return nil
			}
			return putRange(cur)
		}
		err := entries(func(p netip.Prefix) error {
			r := netipx.RangeOfPrefix(p)
			if cur.IsValid() && joins(cur, r) {
				if r.To().Compare(cur.To()) > 0 {
					cur = netipx.IPRangeFrom(cur.From(), r.To())
				}
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			cur = r
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	case !o.Aggregate:
		set := map[netip.Prefix]struct{}{}
		err := each(ctx, src, EDL, o, func(s *selected) error {
			if s.netblock.IsValid() {
				set[s.netblock.Masked()] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return err
		}
		list := make([]netip.Prefix, 0, len(set))
		for p := range set {
			list = append(list, p)
		}
		slices.SortFunc(list, comparePrefix)
		for _, p := range list {
			if err := putRange(netipx.RangeOfPrefix(p)); err != nil {
				return err
			}
		}
		return nil
	default:
		var b netipx.IPSetBuilder
		n := 0
		err := each(ctx, src, EDL, o, func(s *selected) error {
			if !s.netblock.IsValid() {
				return nil
			}
			b.AddPrefix(s.netblock.Masked())
			if n++; n%(64<<10) == 0 {
				if _, err := b.IPSet(); err != nil { // compacts the builder
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range deny.rr {
			b.RemoveRange(r)
		}
		set, err := b.IPSet()
		if err != nil {
			return err
		}
		for _, p := range set.Prefixes() {
			if err := put(p); err != nil {
				return err
			}
		}
		return nil
	}
}

// joins reports whether r, which starts at or after cur's start, overlaps
// cur or starts right after it, in the same family.
func joins(cur, r netipx.IPRange) bool {
	if r.From().Is4() != cur.To().Is4() {
		return false
	}
	next := cur.To().Next()
	return !next.IsValid() || r.From().Compare(next) <= 0
}

// comparePrefix orders prefixes by address, then shorter (wider) first.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// ListedSource is a Source that lists, cheaply and in address order, the
// addresses and networks a plain blocklist lists: every Active indicator
// whose expiry is after at (*store.Store is one: from its expiry index,
// without reading rows), an address as a single-address prefix. An edl of
// Active indicators without other filters, a budget or netblocks reads it
// instead of every indicator.
type ListedSource interface {
	EachListed(ctx context.Context, at time.Time, fn func(netip.Prefix) error) error
}

// plain reports whether o selects every Active indicator a blocklist
// lists and nothing narrower, so that a ListedSource answers it.
func (o *Options) plain() bool {
	active := len(o.Statuses) == 0 || (len(o.Statuses) == 1 && o.Statuses[0] == indicator.StatusActive)
	return active && o.MinImportance == nil && len(o.Categories) == 0 && len(o.Sources) == 0 && o.UpdatedSince.IsZero() && o.Max == 0 &&
		o.Feed == "" && len(o.Feeds) == 0 && o.MinSources == 0 && o.MinConfidence == nil
}

// listed streams ls's listed addresses and networks minus the allow-list
// (a network overlapping it is left out whole, as each leaves it out),
// counting them.
func listed(ctx context.Context, ls ListedSource, o Options, fn func(netip.Prefix) error) error {
	allowed, err := allowedBy(ctx, ls)
	if err != nil {
		return err
	}
	return ls.EachListed(ctx, o.now(), func(p netip.Prefix) error {
		if p.IsSingleIP() && allowed.Contains(p.Addr()) || !p.IsSingleIP() && allowed.Overlaps(p) {
			return nil
		}
		if o.written != nil {
			*o.written++
		}
		return fn(p)
	})
}
