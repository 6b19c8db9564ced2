package merge

import (
	"math/bits"
	"slices"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// Value returns the typed value of single-valued slot s.
func (r *Record) Value(s Slot) indicator.Value {
	switch s {
	case PredictedAt:
		return indicator.DateValue(indicator.Time(r.PredictedAt))
	case DetectedAt:
		return indicator.DateValue(indicator.Time(r.DetectedAt))
	case LastSeenAt:
		return indicator.DateValue(indicator.Time(r.LastSeenAt))
	case PredictedNetblock:
		return indicator.CIDRValue(r.PredictedNetblock)
	case PredictedCategory:
		return indicator.TextValue(r.PredictedCategory)
	case Cluster:
		return indicator.TextValue(r.Cluster)
	case Importance:
		return indicator.NumberValue(r.Importance)
	case NormalizedImportance:
		return indicator.TextValue(r.Normalized)
	}
	panic("merge: not a single-valued slot")
}

// SeclyticsFeed is the Seclytics feed's id.
const SeclyticsFeed = "seclytics"

// Indicator turns a stored indicator into its public form, with attributes
// sorted by name, then value. runTime resolves a run id to its start time.
func (st *Stored) Indicator(runTime func(id int64) time.Time) indicator.Indicator {
	return st.IndicatorOf(runTime, 1<<NumSlots-1, st.Has != 0)
}

// IndicatorOf is Indicator with only the attributes of slots (a render
// that writes a few builds no others), for a row read with only those
// columns: seclytics says whether Seclytics gave it any attribute, which
// makes Seclytics one of its sources (st.Has may then be empty). With a
// nil runTime the attributes' CreatedAt and UpdatedAt are left zero, for
// a render that writes neither.
func (st *Stored) IndicatorOf(runTime func(id int64) time.Time, slots Set, seclytics bool) indicator.Indicator {
	ind := indicator.Indicator{
		Sources:    []string{},
		Attributes: make([]indicator.Attribute, 0, bits.OnesCount16(uint16(st.Has&slots))),
	}
	st.IndicatorInto(&ind, runTime, slots, seclytics)
	for i := range ind.Attributes {
		// A copy: the caller reuses st for the next row.
		if a := &ind.Attributes[i]; a.Value.Kind == indicator.KindList {
			a.Value.List = slices.Clone(a.Value.List)
		}
	}
	return ind
}

// IndicatorInto is IndicatorOf into ind, reusing its slices and the
// targets of its ExpiresAt and Confidence: a read of many rows that hands
// each out in turn allocates nearly nothing per row for them. ind then
// shares st's lists: it is valid until st or ind is reused.
func (st *Stored) IndicatorInto(ind *indicator.Indicator, runTime func(id int64) time.Time, slots Set, seclytics bool) {
	has := st.Has & slots
	expiry, confidence := ind.ExpiresAt, ind.Confidence
	*ind = indicator.Indicator{
		Type:       indicator.TypeOf(st.Addr),
		Addr:       st.Addr,
		Status:     st.Status,
		Sources:    ind.Sources[:0],
		Feeds:      ind.Feeds[:0],
		Attributes: ind.Attributes[:0],
		CreatedAt:  indicator.Time(st.CreatedAt),
		UpdatedAt:  indicator.Time(st.UpdatedAt),
		Generation: st.Generation,
		RenewedAt:  renewedAt(st.RenewedAt),
	}
	if ind.Sources == nil {
		ind.Sources = []string{}
	}
	if st.Prefix.IsValid() {
		ind.Type, ind.Prefix = indicator.TypeCIDR, st.Prefix
	}
	if st.ExpiresAt != 0 {
		// A sighting keeps the indicator Active past the feed's expiry.
		if expiry == nil {
			expiry = new(time.Time)
		}
		*expiry = indicator.Time(max(st.ExpiresAt, st.SightedUntil))
		ind.ExpiresAt = expiry
	}
	if st.Sightings > 0 {
		ind.Sightings = &indicator.Sightings{Count: st.Sightings,
			First: indicator.Time(st.FirstSighted), Last: indicator.Time(st.LastSighted)}
	}
	if seclytics {
		ind.Sources = append(ind.Sources, indicator.SourceSeclytics)
		ind.Feeds = append(ind.Feeds, indicator.Listing{Feed: SeclyticsFeed, Source: indicator.SourceSeclytics, Listed: st.SListed})
	}
	if st.HasConfidence {
		if confidence == nil {
			confidence = new(int)
		}
		*confidence = int(st.Confidence)
		ind.Confidence = confidence
	}
	for i, f := range st.ListFeeds {
		src := f
		if i < len(st.ListSources) {
			src = st.ListSources[i]
		}
		ind.Feeds = append(ind.Feeds, indicator.Listing{Feed: f, Source: src, Listed: true})
		if !slices.Contains(ind.Sources, src) {
			ind.Sources = append(ind.Sources, src)
		}
	}
	if len(ind.Feeds) == 0 {
		ind.Feeds = nil // as a fresh indicator has them
	}
	for _, s := range slotsByName {
		if !has.Has(s) {
			continue
		}
		var v indicator.Value
		if s.IsList() {
			// Sorted, as the renderers write items in order.
			l := *st.List(s)
			slices.Sort(l)
			v = indicator.ListValue(l)
		} else {
			v = st.Value(s)
		}
		a := indicator.Attribute{Name: Names[s], Value: v, Source: indicator.SourceSeclytics}
		if runTime != nil {
			a.CreatedAt, a.UpdatedAt = runTime(st.Created[s]), runTime(st.Updated[s])
		}
		ind.Attributes = append(ind.Attributes, a)
	}
}

// slotsByName are the slots in the order of their names, the order
// Indicator hands attributes out in: built in that order, they need no
// sort per indicator (15% of a ranked read's CPU when they were sorted).
var slotsByName = func() [NumSlots]Slot {
	var s [NumSlots]Slot
	for i := range s {
		s[i] = Slot(i)
	}
	slices.SortStableFunc(s[:], func(a, b Slot) int { return strings.Compare(Names[a], Names[b]) })
	return s
}()

// renewedAt is a stored renewal time as Indicator.RenewedAt holds it:
// zero for none.
func renewedAt(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return indicator.Time(sec)
}
