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
	EachRanked(ctx context.Context, by string, f store.RankFilter, fn func(store.Ranked) bool) error
	EachRankedIndicator(ctx context.Context, by string, f store.RankFilter, fn func(store.Ranked, *indicator.Indicator, netip.Prefix) bool) error
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
// indicators the profile's filters keep (feeds, sources, confidence)
// through the store's index, skips those whose expiry passed and those the
// allow-list covers, keeps the first Max and writes them in address order.
func Render(ctx context.Context, w io.Writer, st Store, name string, s Spec, file string, now time.Time) (Result, error) {
	o := s.exportOptions(name)
	o.Now = func() time.Time { return now }
	var src export.Source = st
	var res Result
	switch {
	case s.Max > 0 && s.Max <= heldBudget:
		h, cut, err := hold(ctx, st, s, now)
		if err != nil {
			return res, err
		}
		src, res.CutOff = h, cut
	case s.Max > 0:
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

// heldBudget is the largest budget read in one pass and held in memory
// (an indicator is about a kilobyte); a larger one reads the ranking
// index, then the kept indicators by key.
var heldBudget = 20000

// skip reports whether a ranked indicator is left out of a budget: its
// expiry passed, or the allow-list covers it.
func skip(x store.Ranked, now time.Time, allowed *allowlist.Matcher) bool {
	return (!x.ExpiresAt.IsZero() && !x.ExpiresAt.After(now)) || allowed.Contains(x.Addr)
}

// hold reads the budget's Max best Active indicators whole, in s's order,
// in one pass, and returns them as a source in address order, with the
// cut-off when the budget is full.
func hold(ctx context.Context, st Store, s Spec, now time.Time) (*held, string, error) {
	entries, err := st.AllowlistEntries(ctx)
	if err != nil {
		return nil, "", err
	}
	allowed := allowlist.NewMatcher(entries, false)
	h := &held{st: st}
	var last string
	err = st.EachRankedIndicator(ctx, s.rank(), s.rankFilter(), func(x store.Ranked, ind *indicator.Indicator, nb netip.Prefix) bool {
		if skip(x, now, allowed) {
			return true
		}
		h.inds = append(h.inds, heldIndicator{ind, nb})
		last = x.Rank
		return len(h.inds) < s.Max
	})
	if err != nil {
		return nil, "", err
	}
	cut := ""
	if len(h.inds) == s.Max {
		cut = last
	}
	slices.SortFunc(h.inds, func(a, b heldIndicator) int { return compareKeys(a.ind.Addr, b.ind.Addr) })
	return h, cut, nil
}

// compareKeys orders addresses as the store keys them: 16 bytes, IPv4
// mapped.
func compareKeys(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	return bytes.Compare(x[:], y[:])
}

type heldIndicator struct {
	ind *indicator.Indicator
	nb  netip.Prefix
}

// held is a budget's indicators, held in address order.
type held struct {
	st   Store
	inds []heldIndicator
}

func (h *held) EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error {
	return h.EachIndicatorNetblock(ctx, func(ind *indicator.Indicator, _ netip.Prefix) error { return fn(ind) })
}

func (h *held) EachIndicatorNetblock(ctx context.Context, fn func(*indicator.Indicator, netip.Prefix) error) error {
	for _, x := range h.inds {
		if err := fn(x.ind, x.nb); err != nil {
			return err
		}
	}
	return nil
}

func (h *held) AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error) {
	return h.st.AllowlistEntries(ctx)
}

// Unbudgeted implements export.Budgeted.
func (h *held) Unbudgeted() export.Source { return h.st }

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
	err = st.EachRanked(ctx, s.rank(), s.rankFilter(), func(x store.Ranked) bool {
		if skip(x, now, allowed) {
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
	slices.SortFunc(r.addrs, compareKeys)
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
