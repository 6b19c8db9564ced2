package merge

import (
	"forewarn/internal/indicator"
)

// Fold merges row into acc. Rows of one IP must be folded in ascending merge
// order (oldest first, as the staged key sorts them), so that a later row's
// value wins: the newest row that has a value for a single-valued attribute
// supplies it, and lists are unioned.
func Fold(acc, row *Record) {
	acc.Addr = row.Addr
	for s := Slot(0); s < NumSlots; s++ {
		if !row.Has.Has(s) {
			continue
		}
		if s.IsList() {
			union(acc.List(s), *row.List(s))
			acc.Has = acc.Has.With(s)
			continue
		}
		copySingle(acc, row, s)
	}
	if row.LookupNetblock.IsValid() {
		acc.LookupNetblock = row.LookupNetblock
	}
}

// Stored is an indicator as a store holds it, with its Seclytics values and
// when each attribute was created and last changed (as run ids).
type Stored struct {
	Record
	Exists    bool // false if the store did not have the indicator
	Status    indicator.Status
	CreatedAt int64 // Unix seconds
	UpdatedAt int64
	// Created and Updated hold, per slot, the id of the run that created
	// the attribute and of the last run that changed its value.
	Created [NumSlots]int64
	Updated [NumSlots]int64

	// Hash is the Hash of the last run's record merged into this
	// indicator (0 if unknown). Merging a record with the same hash again
	// changes nothing, unless the status is Expired.
	Hash uint64
	// NewHash is set by the caller before a load to the hash of the record
	// about to be merged; Unchanged is then set by the store when the
	// stored Hash equals it and merging can be skipped.
	NewHash   uint64
	Unchanged bool
}

// CanSkip reports whether merging a record whose hash is h into st would
// change nothing: st last merged a record with the same hash, and its
// status would not change on a sighting.
func (st *Stored) CanSkip(h uint64) bool {
	return st.Exists && st.Hash != 0 && st.Hash == h && st.Status.AfterSighting() == st.Status
}

// Counts are the changes a run made.
type Counts struct {
	IndicatorsCreated   int64 `json:"indicators_created"`
	IndicatorsUpdated   int64 `json:"indicators_updated"`
	IndicatorsUnchanged int64 `json:"indicators_unchanged"`
	AttributesCreated   int64 `json:"attributes_created"`
	AttributesUpdated   int64 `json:"attributes_updated"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.IndicatorsCreated += o.IndicatorsCreated
	c.IndicatorsUpdated += o.IndicatorsUpdated
	c.IndicatorsUnchanged += o.IndicatorsUnchanged
	c.AttributesCreated += o.AttributesCreated
	c.AttributesUpdated += o.AttributesUpdated
}

// Apply merges a run's record for one IP into the stored state st, in place,
// and reports whether st changed and must be written.
//
// A single-valued attribute is updated in place (its Created run is kept,
// its Updated run moves only when the value changes); a list gains new
// values and never duplicates one; nothing is deleted. A new indicator is
// Active; an Expired one becomes Active again; Whitelisted and Review, set
// by a person, are kept.
//
// A new lookup netblock replaces the stored one (a run without one keeps
// it) and makes st be written, but it is index data, not an attribute: a
// change to it alone counts the indicator as unchanged, creates or updates
// no attribute and does not move UpdatedAt, since nothing a person sees of
// the indicator changed.
func Apply(st *Stored, in *Record, runID, now int64, c *Counts) bool {
	reindexed := in.LookupNetblock.IsValid() && in.LookupNetblock != st.LookupNetblock
	if reindexed {
		st.LookupNetblock = in.LookupNetblock
	}
	created := !st.Exists
	changed := created
	if created {
		st.Exists, st.Addr = true, in.Addr
		st.Status, st.CreatedAt = indicator.StatusActive, now
	} else if next := st.Status.AfterSighting(); next != st.Status {
		st.Status = next
		changed = true
	}
	for s := Slot(0); s < NumSlots; s++ {
		if !in.Has.Has(s) {
			continue
		}
		had := st.Has.Has(s)
		if s.IsList() {
			added := union(st.List(s), *in.List(s))
			if added == 0 {
				continue
			}
			c.AttributesCreated += int64(added)
			if !had {
				st.Created[s] = runID
			}
			st.Updated[s] = runID
			st.Has = st.Has.With(s)
			changed = true
			continue
		}
		switch {
		case !had:
			c.AttributesCreated++
			st.Created[s] = runID
		case !sameSingle(&st.Record, in, s):
			c.AttributesUpdated++
		default:
			continue
		}
		copySingle(&st.Record, in, s)
		st.Updated[s] = runID
		changed = true
	}
	switch {
	case created:
		c.IndicatorsCreated++
	case changed:
		c.IndicatorsUpdated++
	default:
		c.IndicatorsUnchanged++
	}
	if changed {
		st.UpdatedAt = now
	}
	return changed || reindexed
}
