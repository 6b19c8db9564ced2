package export

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"go4.org/netipx"

	"forewarn/internal/allowlist"
)

// AllowlistSource is a Source that also knows the allow-list people added
// (*store.Store is one). Ranges a blocklist writes leave those entries out.
type AllowlistSource interface {
	AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
}

// denied is what a blocklist range must never cover: the allow-list and
// the special-purpose ranges. A predicted netblock (or an aggregate) that
// overlaps it is written minus the overlap, so that a firewall never
// blocks an allow-listed partner or a private network.
type denied struct {
	rr []netipx.IPRange // sorted, disjoint
}

// loadDenied reads the allow-list of src, if it offers one, plus the
// special-purpose ranges (always: whatever the feed's setting, no
// blocklist should cover 10.0.0.0/8 or 0.0.0.0/8).
func loadDenied(ctx context.Context, src Source) (*denied, error) {
	var b netipx.IPSetBuilder
	for _, e := range allowlist.Special() {
		b.AddPrefix(e.Prefix)
	}
	if as, ok := src.(AllowlistSource); ok {
		entries, err := as.AllowlistEntries(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the allow-list: %w", err)
		}
		for _, e := range entries {
			b.AddPrefix(e.Prefix)
		}
	}
	set, err := b.IPSet()
	if err != nil {
		return nil, err
	}
	return &denied{rr: set.Ranges()}, nil
}

// overlapping returns the denied ranges that overlap r, found by binary
// search: O(log n + k), however long the allow-list.
func (d *denied) overlapping(r netipx.IPRange) []netipx.IPRange {
	i := sort.Search(len(d.rr), func(i int) bool { return !d.rr[i].To().Less(r.From()) })
	j := i
	for j < len(d.rr) && !r.To().Less(d.rr[j].From()) {
		j++
	}
	return d.rr[i:j]
}

// clip appends to dst the prefixes of r that are not denied: r's own
// prefixes when nothing overlaps it, none when it is all denied.
func (d *denied) clip(dst []netip.Prefix, r netipx.IPRange) []netip.Prefix {
	over := d.overlapping(r)
	if len(over) == 0 {
		return r.AppendPrefixes(dst)
	}
	var b netipx.IPSetBuilder
	b.AddRange(r)
	for _, o := range over {
		b.RemoveRange(o)
	}
	set, err := b.IPSet()
	if err != nil { // only for invalid ranges, which r is not
		return dst
	}
	return append(dst, set.Prefixes()...)
}
