package output

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"slices"
	"time"

	"forewarn/internal/allowlist"
	"forewarn/internal/export"
	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// Store is what rendering reads: *store.Store.
type Store interface {
	export.NetblockSource
	export.AllowlistSource
	EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error
	EachRanked(ctx context.Context, by string, fn func(store.Ranked) bool) error
	EachIndicatorAt(ctx context.Context, addrs []netip.Addr, fn func(*indicator.Indicator, netip.Prefix) error) error
}

// Result is what a render wrote: how many indicators, and the budget's
// cut-off, the rank of the last one that made it ("" without a budget, or
// when the budget was not filled).
type Result struct {
	Entries int64
	CutOff  string
}

// Render writes the profile name with spec s to w, as of now: the whole
// export, or for misp-feed its file named file. A budget ranks the Active
// indicators through the store's index, skips those whose expiry passed
// and those the allow-list covers, keeps the first Max and writes them in
// address order.
func Render(ctx context.Context, w io.Writer, st Store, name string, s Spec, file string, now time.Time) (Result, error) {
	o := s.exportOptions(name)
	o.Now = func() time.Time { return now }
	var src export.Source = st
	var res Result
	if s.Max > 0 {
		r, cut, err := rank(ctx, st, s, now)
		if err != nil {
			return res, err
		}
		src, res.CutOff = r, cut
	}
	var err error
	if s.Format.Directory() {
		res.Entries, err = export.WriteMISPFile(ctx, w, src, o, file)
	} else {
		res.Entries, err = export.WriteCount(ctx, w, src, s.Format, o)
	}
	return res, err
}

// rank reads the budget's Max best Active indicators in s's order and
// returns them as a source, with the cut-off when the budget is full.
func rank(ctx context.Context, st Store, s Spec, now time.Time) (*ranked, string, error) {
	entries, err := st.AllowlistEntries(ctx)
	if err != nil {
		return nil, "", err
	}
	allowed := allowlist.NewMatcher(entries, false)
	r := &ranked{st: st, addrs: make([]netip.Addr, 0, min(s.Max, 1<<16))}
	var last string
	err = st.EachRanked(ctx, s.rank(), func(x store.Ranked) bool {
		if (!x.ExpiresAt.IsZero() && !x.ExpiresAt.After(now)) || allowed.Contains(x.Addr) {
			return true
		}
		r.addrs = append(r.addrs, x.Addr)
		last = x.Rank
		return len(r.addrs) < s.Max
	})
	if err != nil {
		return nil, "", err
	}
	cut := ""
	if len(r.addrs) == s.Max {
		cut = last
	}
	// The store's key order: an address as 16 bytes (IPv4 mapped).
	slices.SortFunc(r.addrs, func(a, b netip.Addr) int {
		x, y := a.As16(), b.As16()
		return bytes.Compare(x[:], y[:])
	})
	return r, cut, nil
}

// ranked is a budget's indicators, read by key in address order.
type ranked struct {
	st    Store
	addrs []netip.Addr
}

func (r *ranked) EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error {
	return r.st.EachIndicatorAt(ctx, r.addrs, func(ind *indicator.Indicator, _ netip.Prefix) error { return fn(ind) })
}

func (r *ranked) EachIndicatorNetblock(ctx context.Context, fn func(*indicator.Indicator, netip.Prefix) error) error {
	return r.st.EachIndicatorAt(ctx, r.addrs, fn)
}

func (r *ranked) AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error) {
	return r.st.AllowlistEntries(ctx)
}

// Unbudgeted implements export.Budgeted.
func (r *ranked) Unbudgeted() export.Source { return r.st }
