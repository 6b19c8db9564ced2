package ui

import (
	"context"
	"fmt"
	"net/netip"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
)

// Tones are the UI's one colour language for what an address is: red for
// what is blocked (listed and Active), amber for what deserves a look (in
// a predicted netblock, under review), grey for what is never blocked
// (whitelisted, allow-listed, special-purpose), neutral for the rest.
const (
	toneBad     = "bad"
	toneWarn    = "warn"
	toneQuiet   = "quiet"
	toneNeutral = "neutral"
)

// answer is what the UI says about one address, on the lookup page and in
// a search for it alike: the lookup's result, a tone, a short label and the
// reason in words.
type answer struct {
	lookup.Result
	Tone   string
	Label  string
	Reason string
	// Allow is the allow-list entry or special-purpose range holding the
	// address, if any.
	Allow *allowlist.Entry
}

// resolver explains lookup results with the allow-list in force.
type resolver struct {
	entries   []allowlist.Entry
	special   []allowlist.Entry
	specialOn bool
	m         *allowlist.Matcher
}

// resolve answers for each address, in order: the one resolver of the
// lookup page and of a search for an address.
func (u *UI) resolve(ctx context.Context, addrs []netip.Addr) ([]answer, error) {
	res, err := u.Lookup.LookupMany(ctx, addrs)
	if err != nil {
		return nil, err
	}
	rv, err := u.resolver(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]answer, len(res))
	for i, r := range res {
		out[i] = rv.explain(r)
	}
	return out, nil
}

func (u *UI) resolver(ctx context.Context) (*resolver, error) {
	entries, err := u.Store.AllowlistEntries(ctx)
	if err != nil {
		return nil, err
	}
	cfg, _, err := u.Store.FeedConfig(ctx, u.Feed)
	if err != nil {
		return nil, err
	}
	return &resolver{entries: entries, special: allowlist.Special(), specialOn: cfg.AllowlistSpecialRanges,
		m: allowlist.NewMatcher(entries, cfg.AllowlistSpecialRanges)}, nil
}

// allowed is the most specific allow-list entry or special range holding
// a. The matcher answers first, so the lists are read only for an address
// that is in one.
func (rv *resolver) allowed(a netip.Addr) *allowlist.Entry {
	if !rv.m.Contains(a) {
		return nil
	}
	var best *allowlist.Entry
	pick := func(list []allowlist.Entry) {
		for i := range list {
			if list[i].Prefix.Contains(a) && (best == nil || list[i].Prefix.Bits() > best.Prefix.Bits()) {
				best = &list[i]
			}
		}
	}
	pick(rv.entries)
	if rv.specialOn {
		pick(rv.special)
	}
	return best
}

func (rv *resolver) explain(r lookup.Result) answer {
	a := answer{Result: r, Allow: rv.allowed(r.IP)}
	if r.Indicator != nil {
		a.Tone, a.Label, a.Reason = listedReason(r.Indicator)
		return a
	}
	switch {
	case a.Allow != nil && a.Allow.BuiltIn:
		a.Tone, a.Label = toneQuiet, "special-purpose range"
		a.Reason = fmt.Sprintf("Not listed: %s is %s (%s), a built-in special-purpose range that is never blocked.",
			a.Allow.Prefix, a.Allow.Comment, a.Allow.RFC)
	case a.Allow != nil:
		a.Tone, a.Label = toneQuiet, "allow-listed"
		a.Reason = fmt.Sprintf("Not listed: allow-list entry %s covers it%s, so it is never blocked.", a.Allow.Prefix, quoted(a.Allow.Comment))
	case len(r.Netblocks) > 0:
		nb := r.Netblocks[0]
		a.Tone, a.Label = toneWarn, "in a predicted netblock"
		a.Reason = fmt.Sprintf("Not listed itself, but it lies in %s, a netblock Seclytics predicted, with %s listed %s.",
			nb.Netblock, thousands(int64(nb.Listed)), plural(int64(nb.Listed), "address", "addresses"))
	default:
		a.Tone, a.Label = toneNeutral, "unknown"
		a.Reason = "Not listed, and in no predicted netblock, allow-list entry or special-purpose range."
	}
	return a
}

// listedReason is the tone, label and reason of a stored indicator.
func listedReason(ind *indicator.Indicator) (tone, label, reason string) {
	imp := ""
	if v := ind.Attr(indicator.AttrImportance); v.Kind != indicator.KindNone {
		imp = " with importance " + v.String()
	}
	label = "listed · " + string(ind.Status)
	switch ind.Status {
	case indicator.StatusActive:
		return toneBad, label, "Listed" + imp + " and Active: it is exported to blocklists."
	case indicator.StatusReview:
		return toneWarn, label, "Listed" + imp + ", held for review by a person: not exported to blocklists until it is Active again."
	case indicator.StatusWhitelisted:
		return toneQuiet, label, "Listed" + imp + ", but Whitelisted (by a person or the allow-list): never exported to a blocklist."
	case indicator.StatusExpired:
		return toneNeutral, label, "Listed" + imp + ", but Expired: not seen for longer than the feed's age_out, so no longer exported."
	}
	return toneNeutral, label, "Listed" + imp + "."
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	return " (“" + s + "”)"
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// statusTone is the tone of an indicator's status badge.
func statusTone(s indicator.Status) string {
	switch s {
	case indicator.StatusActive:
		return toneBad
	case indicator.StatusReview:
		return toneWarn
	case indicator.StatusWhitelisted:
		return toneQuiet
	}
	return toneNeutral
}
