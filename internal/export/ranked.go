package export

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/store"
)

// RankedSource is a Source that reads its Active indicators best first
// through an index (*store.Store): a budget of N then reads about N index
// entries and N rows, whatever the store's size, and never sorts it.
type RankedSource interface {
	// EachRanked hands out the address, expiry and rank of each Active
	// indicator f keeps, best first, until fn returns false.
	EachRanked(ctx context.Context, by string, f store.RankFilter, fn func(store.Ranked) bool) error
	// EachRankedIndicator is EachRanked with each indicator read as the
	// exports write it: the attributes attrs names (nil: every one),
	// without the attributes' times or the sightings. fn may keep it (no
	// later call reuses it).
	EachRankedIndicator(ctx context.Context, by string, f store.RankFilter, attrs []string, fn func(store.Ranked, *indicator.Indicator, netip.Prefix) bool) error
	// EachIndicatorAt reads the indicators at addrs (in address order)
	// by key, as EachRankedIndicator does; fn's is valid until it
	// returns.
	EachIndicatorAt(ctx context.Context, addrs []netip.Addr, attrs []string, fn func(*indicator.Indicator, netip.Prefix) error) error
	// EachRankedBrief is EachRanked with the few fields the lean
	// formats write (brief), valid until fn returns.
	EachRankedBrief(ctx context.Context, by string, f store.RankFilter, fn func(*store.Brief) bool) error
	// CountActive counts the Active indicators, up to limit.
	CountActive(ctx context.Context, limit int) (int, error)
	// EachActive reads every Active indicator f keeps, in address
	// order, as EachIndicatorAt does but for the fields left out of
	// fields, with its rank by by; fn's is valid until it returns.
	EachActive(ctx context.Context, by string, f store.RankFilter, attrs []string, fields store.Fields, fn func(store.Ranked, *indicator.Indicator, netip.Prefix) error) error
	// EachActiveBrief is EachActive with the briefs EachRankedBrief
	// reads.
	EachActiveBrief(ctx context.Context, by string, f store.RankFilter, fields store.BriefFields, fn func(*store.Brief) error) error
}

// DefaultHeldBudget is the largest budget read whole in one pass of the
// ranking index and held in memory (Options.HeldBudget); a larger one
// reads the index for the addresses, then the kept indicators by key.
// None: since the index covers the walk (address and expiry), the walk
// costs a third of holding, and the second read by key, in address order
// into one reused indicator, costs no more CPU than holding 10,000
// indicators whole and allocates less than half (docs/performance.md).
// Filters the store does not apply still hold what they keep.
const DefaultHeldBudget = 0

// ErrBudgetStatus means a budget was asked of statuses other than Active:
// only Active indicators are in the ranking indexes, so ranking any other
// would read every indicator in the store (minutes at 5M).
var ErrBudgetStatus = errors.New("a budget ranks Active indicators (through their index)")

// CheckBudgetStatuses is the rule a budget (Filter.Max) and its statuses
// follow wherever one is asked for (output profiles, forewarn export):
// Active only. Its error wraps ErrBudgetStatus.
func CheckBudgetStatuses(max int, statuses []indicator.Status) error {
	if max > 0 && !activeOnly(statuses) {
		return ErrBudgetStatus
	}
	return nil
}

// activeOnly reports whether the selection lists Active indicators only,
// the ones the ranking indexes hold.
func (sel *selector) activeOnly() bool { return activeOnly(sel.statuses) }

// activeOnly reports whether statuses (Options.Statuses: none is Active)
// are Active only.
func activeOnly(statuses []indicator.Status) bool {
	return !slices.ContainsFunc(statuses, func(s indicator.Status) bool { return s != indicator.StatusActive })
}

// rankFilter is the part of o's filters a ranked read applies in the
// store, and whether that is all of them (the blocklist's expiry and
// allow-list aside, which dropRanked checks): then what the index hands
// out needs no more checking.
func (o *Options) rankFilter() (store.RankFilter, bool) {
	// At: the walk's expiries are the effective ones (a sighting's
	// included) where dropRanked checks them.
	f := store.RankFilter{Feeds: o.Feeds, MinSources: o.MinSources, MinConfidence: o.MinConfidence, At: o.now()}
	exact := o.MinImportance == nil && len(o.Categories) == 0 && len(o.Sources) == 0 && o.UpdatedSince.IsZero()
	switch {
	case o.Feed != "" && len(o.Feeds) == 0:
		f.Feeds = []string{o.Feed}
	case o.Feed != "":
		exact = false // both: the store checks the list, pick the one
	}
	return f, exact
}

// writtenAttributes are the attributes each format's writer reads (derive
// reads Importance, Last Seen At and Predicted Netblock for every one), so
// that a held ranked read builds, and reads the columns of, no others; a
// format not listed reads every attribute. TestBudgetReadLeanIsTheSame
// checks each against the whole indicators' render.
var writtenAttributes = map[Format][]string{
	EDL:           {},
	CrowdSec:      {indicator.AttrDetectedCategories},
	SuricataIPRep: {indicator.AttrDetectedCategories},
	ZeekIntel:     {indicator.AttrDetectedCategories, indicator.AttrCluster},
	ECS:           {indicator.AttrDetectedCategories, indicator.AttrCluster, indicator.AttrPredictedAt, indicator.AttrDetectedAt},
	MISPFeed:      {indicator.AttrDetectedCategories, indicator.AttrCluster, indicator.AttrPredictedAt, indicator.AttrDetectedAt},
	STIX: {indicator.AttrDetectedCategories, indicator.AttrCluster, indicator.AttrPredictedAt, indicator.AttrDetectedAt,
		indicator.AttrDetectedBy},
	CSV: {indicator.AttrDetectedCategories, indicator.AttrCluster, indicator.AttrPredictedAt, indicator.AttrDetectedAt,
		indicator.AttrDetectedBy, indicator.AttrDetectedIdentifiers, indicator.AttrPredictedCategory},
}

// writtenFields are the parts of an indicator besides its attributes and
// address that each format's writer reads (store.Fields), so that the
// one-pass read (scanned) reads no other column; a format not listed
// reads them all. A blocklist reads the expiry too (pick checks it), and
// a filter the fields it checks (rankedFields). TestBudgetReadLeanIsTheSame
// checks each against the whole indicators' render.
var writtenFields = map[Format]store.Fields{
	CSV:       0,
	JSONL:     store.FieldTimes | store.FieldSources,
	STIX:      store.FieldTimes | store.FieldExpiry | store.FieldGeneration,
	ZeekIntel: store.FieldSources,
	ECS:       store.FieldTimes | store.FieldSources,
	MISPFeed:  store.FieldTimes | store.FieldSources,
}

// rankedFields are the fields the one-pass read of format f reads: what
// its writer reads (writtenFields), the expiry for a blocklist, and what
// pick checks for o's filters.
func (o *Options) rankedFields(f Format) store.Fields {
	fields, ok := writtenFields[f]
	if !ok {
		return store.AllFields
	}
	if f.Blocklist() {
		fields |= store.FieldExpiry
	}
	if len(o.Sources) > 0 {
		fields |= store.FieldSources
	}
	if o.Feed != "" || len(o.Feeds) > 0 || o.MinSources > 0 {
		fields |= store.FieldSources | store.FieldListed
	}
	if o.MinConfidence != nil {
		fields |= store.FieldConfidence
	}
	if !o.UpdatedSince.IsZero() {
		fields |= store.FieldTimes
	}
	return fields
}

// rankedAttributes are the attributes a held ranked read of format f
// builds: what its writer reads, what derive reads, and the Detected
// Categories when a category filter checks them (nil: every one).
func (o *Options) rankedAttributes(f Format) []string {
	w, ok := writtenAttributes[f]
	if !ok {
		return nil
	}
	attrs := append([]string{indicator.AttrImportance, indicator.AttrLastSeenAt, indicator.AttrPredictedNetblock}, w...)
	if len(o.Categories) > 0 && !slices.Contains(attrs, indicator.AttrDetectedCategories) {
		attrs = append(attrs, indicator.AttrDetectedCategories)
	}
	return attrs
}

// heldBudget is the largest budget ranked reads hold in memory.
func (o *Options) heldBudget() int {
	if o.HeldBudget == 0 {
		return DefaultHeldBudget
	}
	return max(o.HeldBudget, 0)
}

// dropRanked reports whether a ranked indicator is left out before it is
// read: for a blocklist, its expiry passed or the allow-list covers it.
func (sel *selector) dropRanked(x store.Ranked) bool {
	if !sel.f.Blocklist() {
		return false
	}
	return (!x.ExpiresAt.IsZero() && !x.ExpiresAt.After(sel.at)) || sel.allowed.Contains(x.Addr)
}

// ranked calls emit for the Max best indicators of rs that sel selects, in
// address order, reading them best first through the store's ranking
// index and stopping at the Max-th: an entry count's worth of work,
// whatever the store's size. Three ways, by what the format needs:
//
//   - a plain edl (addresses only) reads only the index walk's addresses,
//     expiries and ranks, and decodes no indicator;
//   - a budget up to HeldBudget (none by default) reads each indicator
//     in the same walk and holds the kept ones;
//   - a larger one keeps the walk's addresses, then reads the kept
//     indicators by key in address order (memory: 16 bytes each), each
//     into the same indicator;
//   - one at least as large as the Active set (CountActive) ranks
//     nothing: it keeps every indicator its filters pass, so one pass
//     over the table in address order reads them (scanned), a third of
//     the cost of the walk and the reads by key (a 1M-entry profile of
//     a 1M store).
//
// The last three need every filter applied in the store (rankFilter), or
// they hold the kept indicators whole whatever the budget.
func (sel *selector) ranked(ctx context.Context, rs RankedSource, emit func(*selected) error) error {
	o := sel.o
	by := o.rankBy()
	rf, exact := o.rankFilter()
	addressOnly := exact && sel.f == EDL && !o.Netblocks
	if exact && !addressOnly && o.Max > o.heldBudget() {
		n, err := rs.CountActive(ctx, o.Max+1)
		if err != nil {
			return err
		}
		if n <= o.Max {
			return sel.scanned(ctx, rs, n, emit)
		}
	}
	if addressOnly || (exact && o.Max > o.heldBudget()) {
		addrs := make([]netip.Addr, 0, min(o.Max, 1<<16))
		var last store.Ranked
		err := rs.EachRanked(ctx, by, rf, func(x store.Ranked) bool {
			if sel.dropRanked(x) {
				return true
			}
			if len(addrs) == cap(addrs) {
				// Doubling: append grows a large slice by a quarter, which
				// copied a 1M budget's addresses five times over.
				addrs = slices.Grow(addrs, min(cap(addrs), o.Max-len(addrs)))
			}
			addrs = append(addrs, x.Addr)
			last = x
			return len(addrs) < o.Max
		})
		if err != nil {
			return err
		}
		sel.cutOff(len(addrs), last.Rank)
		slices.SortFunc(addrs, compareKeys)
		if addressOnly {
			// One indicator for every address: the edl writer keeps
			// nothing of it.
			var (
				ind indicator.Indicator
				s   selected
			)
			for _, a := range addrs {
				if err := ctx.Err(); err != nil {
					return err
				}
				ind = indicator.Indicator{Addr: a, Status: indicator.StatusActive}
				s = selected{ind: &ind, addr: a, confidence: -1, rank: by}
				if err := emit(&s); err != nil {
					return err
				}
			}
			return nil
		}
		return rs.EachIndicatorAt(ctx, addrs, o.rankedAttributes(sel.f), func(ind *indicator.Indicator, nb netip.Prefix) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			s, ok, err := sel.pick(ind, nb) // it may have changed since the walk
			if err != nil || !ok {
				return err
			}
			return emit(&s)
		})
	}
	var (
		kept []*selected
		last store.Ranked
		perr error
	)
	err := rs.EachRankedIndicator(ctx, by, rf, o.rankedAttributes(sel.f), func(x store.Ranked, ind *indicator.Indicator, nb netip.Prefix) bool {
		if perr = ctx.Err(); perr != nil {
			return false
		}
		s, ok, err := sel.pick(ind, nb)
		if err != nil {
			perr = err
			return false
		}
		if !ok {
			return true
		}
		kept = append(kept, &s) // the source's to give: no clone
		last = x
		return len(kept) < o.Max
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	sel.cutOff(len(kept), last.Rank)
	return emitByAddress(ctx, kept, emit)
}

// scanned calls emit for every Active indicator of rs that sel selects,
// in address order, in one pass over the store (EachActive): ranked's
// path for a budget no smaller than the Active set. It keeps what the
// walk would keep (the same expiry and allow-list checks, dropRanked)
// and reports the same cut-off: the lowest rank kept, when the budget is
// full.
//
// n is the Active set's size (CountActive): a budget larger than it never
// fills, so its cut-off is never reported, and the read leaves out the
// ranks (by "").
func (sel *selector) scanned(ctx context.Context, rs RankedSource, n int, emit func(*selected) error) error {
	o := sel.o
	rf, _ := o.rankFilter()
	var (
		kept  int
		worst store.Ranked
	)
	err := rs.EachActive(ctx, sel.scanRank(n), rf, o.rankedAttributes(sel.f), o.rankedFields(sel.f), func(x store.Ranked, ind *indicator.Indicator, nb netip.Prefix) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if sel.dropRanked(x) {
			return nil
		}
		if kept == 0 || worst.Better(x) {
			worst = x
		}
		kept++
		s, ok, err := sel.pick(ind, nb)
		if err != nil || !ok {
			return err
		}
		return emit(&s)
	})
	if err != nil {
		return err
	}
	sel.cutOff(kept, worst.Rank)
	return nil
}

// scanRank is the rank a one-pass read of an Active set of n reads: none
// ("") when the budget cannot fill, or no one asks for its cut-off.
func (sel *selector) scanRank(n int) string {
	if n < sel.o.Max || sel.o.CutOff == nil {
		return ""
	}
	return sel.o.rankBy()
}

// cutOff reports the budget's cut-off, the rank of the last indicator
// kept, when the budget is full (Options.CutOff).
func (sel *selector) cutOff(kept int, last func() string) {
	if sel.o.CutOff != nil && kept == sel.o.Max {
		*sel.o.CutOff = last()
	}
}

// brief is one indicator as the lean formats (crowdsec, suricata-iprep)
// write it: the few fields they need, read without the indicator whole
// when the read is ranked (rankedBrief).
type brief struct {
	addr netip.Addr
	// network is a network indicator's CIDR (only without a budget:
	// budgets rank addresses); invalid for an address.
	network   netip.Prefix
	expiresAt time.Time // zero: never
	// sources are the sources listing it, joined with ","; categories its
	// Detected Categories, sorted, joined with "," (as joined), and
	// categoryItems the same items one by one. Entries that have the same
	// share them: the formats only read them.
	sources, categories string
	categoryItems       []string
	importance          float64
	hasImportance       bool
}

// briefOf is the brief of an indicator each selected.
func briefOf(s *selected) brief {
	b := brief{addr: s.addr, network: s.network, sources: strings.Join(s.ind.Sources, ","),
		categories: joined(s.ind, indicator.AttrDetectedCategories, ","),
		importance: s.importance, hasImportance: s.hasImportance}
	values(s.ind, indicator.AttrDetectedCategories, func(v string) { b.categoryItems = append(b.categoryItems, v) })
	if s.ind.ExpiresAt != nil {
		b.expiresAt = *s.ind.ExpiresAt
	}
	return b
}

// value is b as a format writes it: the address, or the network in CIDR
// notation.
func (b *brief) value() string {
	if b.network.IsValid() {
		return b.network.String()
	}
	return b.addr.String()
}

// appendValue appends value to dst.
func (b *brief) appendValue(dst []byte) []byte {
	if b.network.IsValid() {
		return b.network.AppendTo(dst)
	}
	return b.addr.AppendTo(dst)
}

// eachBrief calls fn with the brief of each indicator each would hand
// out, in the same order. A budget whose filters the store applies
// (rankFilter) reads only the briefs through the ranking index
// (rankedBrief), or in one pass when it covers the Active set
// (scannedBrief); anything else goes through each.
func eachBrief(ctx context.Context, src Source, f Format, o Options, fn func(*brief) error) error {
	rs, ok := src.(RankedSource)
	if _, exact := o.rankFilter(); !ok || !exact || o.Max <= 0 || !activeOnly(o.Statuses) {
		return each(ctx, src, f, o, func(s *selected) error {
			b := briefOf(s)
			return fn(&b)
		})
	}
	sel, err := newSelector(ctx, src, f, &o)
	if err != nil {
		return err
	}
	return sel.rankedBrief(ctx, rs, fn)
}

// rankedBrief is ranked for the lean formats: it keeps the Max best
// briefs (about 120 bytes each, their strings shared between the entries
// that have the same), then hands them out in address order. It
// allocates nothing per row but what it keeps.
func (sel *selector) rankedBrief(ctx context.Context, rs RankedSource, emit func(*brief) error) error {
	o := sel.o
	by := o.rankBy()
	rf, _ := o.rankFilter()
	n, err := rs.CountActive(ctx, o.Max+1)
	if err != nil {
		return err
	}
	if n <= o.Max {
		return sel.scannedBrief(ctx, rs, n, emit)
	}
	type categories struct {
		joined string
		items  []string
	}
	var (
		kept   = make([]brief, 0, min(o.Max, 1<<16))
		last   string
		perr   error
		buf    []byte
		shared = map[string]string{}
		cats   = map[string]categories{}
	)
	// categoriesOf is l's items, and joined as joined does, shared with
	// every earlier entry that had the same items.
	categoriesOf := func(l [][]byte) categories {
		buf = binary.AppendUvarint(buf[:0], uint64(len(l))) // [] is not [""]
		for _, x := range l {
			buf = append(binary.AppendUvarint(buf, uint64(len(x))), x...)
		}
		if c, ok := cats[string(buf)]; ok {
			return c
		}
		c := categories{items: make([]string, len(l))}
		var j strings.Builder
		for i, x := range l {
			c.items[i] = string(x)
			if j.Len() > 0 {
				j.WriteByte(',')
			}
			j.Write(x)
		}
		c.joined = j.String()
		cats[string(buf)] = c
		return c
	}
	// intern is the items of l joined with "," (as strings.Join), as a
	// string shared with every earlier entry that had the same.
	intern := func(l [][]byte) string {
		buf = buf[:0]
		for i, x := range l {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, x...)
		}
		if v, ok := shared[string(buf)]; ok {
			return v
		}
		v := string(buf)
		shared[v] = v
		return v
	}
	err = rs.EachRankedBrief(ctx, by, rf, func(x *store.Brief) bool {
		if perr = ctx.Err(); perr != nil {
			return false
		}
		if sel.f.Blocklist() && ((!x.ExpiresAt.IsZero() && !x.ExpiresAt.After(sel.at)) || sel.allowed.Contains(x.Addr)) {
			return true
		}
		c := categoriesOf(x.Categories)
		b := brief{addr: x.Addr, expiresAt: x.ExpiresAt, sources: intern(x.Sources), categories: c.joined,
			categoryItems: c.items, importance: x.Importance, hasImportance: x.HasImportance}
		kept = append(kept, b)
		if len(kept) < o.Max {
			return true
		}
		last = x.Rank(by)
		return false
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	sel.cutOff(len(kept), func() string { return last })
	slices.SortFunc(kept, func(a, b brief) int { return compareKeys(a.addr, b.addr) })
	for i := range kept {
		if err := ctx.Err(); err != nil {
			return err
		}
		if o.written != nil {
			*o.written++
		}
		if err := emit(&kept[i]); err != nil {
			return err
		}
	}
	return nil
}

// briefFields are the fields of a brief format f writes or checks (the
// expiry: a blocklist leaves out the expired), so that a one-pass read
// reads no other column: crowdsec writes the sources, suricata-iprep the
// importance, both the categories.
func briefFields(f Format) store.BriefFields {
	var fields store.BriefFields
	if f == CrowdSec || f.Blocklist() {
		fields |= store.BriefExpiry
	}
	switch f {
	case CrowdSec:
		fields |= store.BriefSources
	case SuricataIPRep:
		fields |= store.BriefImportance
	default:
		fields = store.AllBriefFields
	}
	return fields
}

// scannedBrief is rankedBrief for a budget no smaller than the Active set
// (scanned's path): every brief its filters keep, in one pass in address
// order, each handed to emit as it is read, nothing kept; the same
// expiry and allow-list checks and the same cut-off as the ranked read.
func (sel *selector) scannedBrief(ctx context.Context, rs RankedSource, n int, emit func(*brief) error) error {
	o := sel.o
	by := sel.scanRank(n)
	rf, _ := o.rankFilter()
	var (
		kept  int
		worst store.Ranked
		b     brief
		cats  []string
		in    interner
	)
	err := rs.EachActiveBrief(ctx, by, rf, briefFields(sel.f), func(x *store.Brief) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if sel.f.Blocklist() && ((!x.ExpiresAt.IsZero() && !x.ExpiresAt.After(sel.at)) || sel.allowed.Contains(x.Addr)) {
			return nil
		}
		if r := x.Ranked(by); kept == 0 || worst.Better(r) {
			worst = r
		}
		kept++
		// As rankedBrief's (sources and categories joined with ","),
		// shared with the rows before that had the same.
		cats = cats[:0]
		for _, c := range x.Categories {
			cats = append(cats, in.of(c))
		}
		b = brief{addr: x.Addr, expiresAt: x.ExpiresAt, sources: in.join(x.Sources), categories: in.join(x.Categories),
			categoryItems: cats, importance: x.Importance, hasImportance: x.HasImportance}
		if o.written != nil {
			*o.written++
		}
		return emit(&b)
	})
	if err != nil {
		return err
	}
	sel.cutOff(kept, worst.Rank)
	return nil
}

// interner hands out the strings of the bytes it is given, sharing each
// with the earlier ones that had the same: a render's sources and
// categories come in few combinations, and a string per row was most of
// a 1M render's garbage. It keeps at most internMax; past that, each is a
// copy.
type interner struct {
	m   map[string]string
	buf []byte
}

const internMax = 1 << 16

// of is b as a string.
func (in *interner) of(b []byte) string {
	if v, ok := in.m[string(b)]; ok {
		return v
	}
	v := string(b)
	if in.m == nil {
		in.m = map[string]string{}
	}
	if len(in.m) < internMax {
		in.m[v] = v
	}
	return v
}

// join is l's items joined with "," (strings.Join's), as a string.
func (in *interner) join(l [][]byte) string {
	in.buf = in.buf[:0]
	for i, x := range l {
		if i > 0 {
			in.buf = append(in.buf, ',')
		}
		in.buf = append(in.buf, x...)
	}
	return in.of(in.buf)
}
