package export

import (
	"context"
	"io"
	"net/netip"
	"slices"

	"go4.org/netipx"
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
	if !o.Netblocks && !o.Aggregate {
		return each(ctx, src, EDL, o, func(s *selected) error { return put(s.addr) })
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
		err := each(ctx, src, EDL, o, func(s *selected) error {
			if cur.IsValid() && s.addr.Is4() == cur.To().Is4() && cur.To().Next() == s.addr {
				cur = netipx.IPRangeFrom(cur.From(), s.addr)
				return nil
			}
			if err := flush(); err != nil {
				return err
			}
			cur = netipx.IPRangeFrom(s.addr, s.addr)
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

// comparePrefix orders prefixes by address, then shorter (wider) first.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
