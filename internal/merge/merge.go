package merge

import (
	"forewarn/internal/indicator"
	"net/netip"
)

// Fold merges row into acc. Rows of one IP must be folded in ascending merge
// order (oldest first, as the staged key sorts them), so that a later row's
// value wins: the newest row that has a value for a single-valued attribute
// supplies it, and lists are unioned, keeping the MaxListValues newest
// values. Lists are gathered in arrival order, in time linear in the
// values: call Finish after the last row to sort them. Fold reports
// whether a list lost values to the cap.
func Fold(acc, row *Record) bool {
	acc.Addr = row.Addr
	cut := false
	for s := Slot(0); s < NumSlots; s++ {
		if !row.Has.Has(s) {
			continue
		}
		if s.IsList() {
			l := acc.List(s)
			*l = append(*l, *row.List(s)...)
			if len(*l) > compactAt {
				var c bool
				*l, c = keepNewest(*l, MaxListValues)
				cut = cut || c
			}
			acc.Has = acc.Has.With(s)
			continue
		}
		copySingle(acc, row, s)
	}
	if row.LookupNetblock.IsValid() {
		acc.LookupNetblock = row.LookupNetblock
	}
	return cut
}

// Stored is an indicator as a store holds it, with its Seclytics values and
// when each attribute was created and last changed (as run ids).
type Stored struct {
	Record
	Exists bool // false if the store did not have the indicator
	// New is set by a merge that created the indicator: it exists now,
	// but not yet in the store.
	New       bool
	Status    indicator.Status
	CreatedAt int64 // Unix seconds
	UpdatedAt int64
	// ExpiresAt is when the indicator ages out (Unix seconds; 0: never).
	// SeenAt is the start of the last run that wrote it (0: unknown).
	ExpiresAt int64
	SeenAt    int64
	// Sightings counts the times the indicator was seen in the owner's
	// logs, FirstSighted and LastSighted when (Unix seconds; 0: never),
	// and SightedUntil is how long the last sighting keeps it Active
	// whatever ExpiresAt says. A run never writes them.
	Sightings                               int64
	FirstSighted, LastSighted, SightedUntil int64
	// Generation is how many times the indicator left a revoked status
	// (Expired, Whitelisted) for a live one; the store moves it (see
	// indicator.Indicator.Generation), a merge never does.
	Generation int64
	// RenewedAt is when the indicator last left a revoked status (Unix
	// seconds; 0 at generation 0), set by the store as Generation is.
	RenewedAt int64
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
	NewHash uint64
	// NewLifecycle is the lifecycle the record about to be merged will be
	// merged under; the probe passes it to CanSkip.
	NewLifecycle Lifecycle
	Unchanged    bool

	// The listings, as the store keeps them for list feeds (merge does
	// not change them): the combined confidence (HasConfidence false:
	// none), the ids of the list feeds listing the indicator and their
	// source names in the same order, and whether Seclytics lists it.
	HasConfidence bool
	Confidence    int64
	// Prefix is the network of a network indicator (a list feed's CIDR
	// entry; Addr is then its first address); invalid for a host.
	Prefix      netip.Prefix
	ListFeeds   []string
	ListSources []string
	SListed     bool
}

// CanSkip reports whether merging a record whose hash is h into st would
// change nothing: st last merged a record with the same hash, and neither
// its status nor its expiry would change under lc. st needs only Exists,
// Status, Hash and ExpiresAt, which is what a store's probe reads.
//
// An Expired indicator is skipped only while the record (and so its Last
// Seen At) is the same one that made it expire: a later sighting has
// another hash and re-activates it.
func (st *Stored) CanSkip(h uint64, lc Lifecycle) bool {
	if !st.Exists || st.Hash == 0 || st.Hash != h {
		return false
	}
	if lc.Allowlisted {
		return st.Status == indicator.StatusWhitelisted
	}
	switch st.Status {
	case indicator.StatusWhitelisted, indicator.StatusReview:
		return true
	}
	if lc.AgeOut == 0 {
		return st.Status == indicator.StatusActive && st.ExpiresAt == 0
	}
	if st.ExpiresAt == 0 {
		return false
	}
	if lc.LastSeen {
		// The same record carries the same Last Seen At, so the stored
		// expiry is what merging would compute.
		want := indicator.StatusActive
		if st.ExpiresAt <= lc.Now {
			want = indicator.StatusExpired
		}
		return st.Status == want
	}
	// Dated by this run: rewrite only once the stored expiry lags the one
	// this run would give by more than lc.Refresh.
	return st.Status == indicator.StatusActive && st.ExpiresAt >= lc.Now+lc.AgeOut-lc.Refresh
}

// Lifecycle is what decides an indicator's status and expiry during a run,
// besides its values.
type Lifecycle struct {
	// Now is the run's start, Unix seconds.
	Now int64
	// AgeOut is the source's age_out in seconds; 0 means never.
	AgeOut int64
	// Refresh is how far an expiry based on the run's time (no Last Seen
	// At) may lag before an otherwise unchanged row is rewritten.
	Refresh int64
	// Allowlisted says the address is in an allow-listed range.
	Allowlisted bool
	// LastSeen says the record being merged has a Last Seen At.
	LastSeen bool
}

// RefreshFraction is the share of age_out by which the expiry of an
// indicator without Last Seen At may lag: such a row is rewritten, to move
// its expiry, at most every age_out/RefreshFraction.
const RefreshFraction = 10

// NewLifecycle returns the lifecycle of a run starting at now with the
// given age_out in seconds (0: never), for a record that has or has not a
// Last Seen At.
func NewLifecycle(now, ageOut int64, lastSeen, allowlisted bool) Lifecycle {
	return Lifecycle{Now: now, AgeOut: ageOut, Refresh: ageOut / RefreshFraction, LastSeen: lastSeen, Allowlisted: allowlisted}
}

// Expiry is when st ages out under lc: its Last Seen At, else lc.Now (the
// time a run last saw it), plus the age_out; 0 for never. It is at most
// indicator.MaxUnix, the last time a timestamp can show.
func (lc Lifecycle) Expiry(st *Stored) int64 {
	if lc.AgeOut == 0 {
		return 0
	}
	base := lc.Now
	if st.Has.Has(LastSeenAt) {
		base = st.LastSeenAt
	}
	if base > indicator.MaxUnix-lc.AgeOut {
		return indicator.MaxUnix
	}
	return base + lc.AgeOut
}

// Counts are the changes a run made.
type Counts struct {
	IndicatorsCreated   int64 `json:"indicators_created"`
	IndicatorsUpdated   int64 `json:"indicators_updated"`
	IndicatorsUnchanged int64 `json:"indicators_unchanged"`
	AttributesCreated   int64 `json:"attributes_created"`
	AttributesUpdated   int64 `json:"attributes_updated"`
	// IndicatorsExpired counts indicators the run marked Expired: those
	// merged with an expiry already past, and those aged out after the
	// merge.
	IndicatorsExpired int64 `json:"indicators_expired"`
	// ListsCapped counts indicators whose lists lost their oldest values
	// to MaxListValues; the run reports it as one warning.
	ListsCapped int64 `json:"-"`
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.IndicatorsCreated += o.IndicatorsCreated
	c.IndicatorsUpdated += o.IndicatorsUpdated
	c.IndicatorsUnchanged += o.IndicatorsUnchanged
	c.AttributesCreated += o.AttributesCreated
	c.AttributesUpdated += o.AttributesUpdated
	c.IndicatorsExpired += o.IndicatorsExpired
	c.ListsCapped += o.ListsCapped
}

// Apply merges a run's record for one IP into the stored state st, in place,
// and reports whether st changed and must be written.
//
// A single-valued attribute is updated in place (its Created run is kept,
// its Updated run moves only when the value changes); a list gains new
// values and never duplicates one; nothing is deleted, except the oldest
// values of a list grown past MaxListValues. A new indicator is
// Active; an Expired one becomes Active again; Whitelisted and Review, set
// by a person, are kept.
//
// A new lookup netblock replaces the stored one (a run without one keeps
// it) and makes st be written, but it is index data, not an attribute: a
// change to it alone counts the indicator as unchanged, creates or updates
// no attribute and does not move UpdatedAt, since nothing a person sees of
// the indicator changed.
func Apply(st *Stored, in *Record, runID, now int64, c *Counts) bool {
	return ApplyLifecycle(st, in, runID, Lifecycle{Now: now}, c)
}

// ApplyLifecycle is Apply with an expiry policy and allow-list: after the
// values are merged, ExpiresAt is set from lc; an allow-listed indicator
// becomes (or is created) Whitelisted; an indicator that would be Active
// but whose expiry has passed is Expired (so a sighting with an old Last
// Seen At does not re-activate it, and a new indicator last seen long ago
// is created Expired). A change of expiry alone makes st be written but,
// like a netblock, counts as unchanged.
func ApplyLifecycle(st *Stored, in *Record, runID int64, lc Lifecycle, c *Counts) bool {
	now := lc.Now
	reindexed := in.LookupNetblock.IsValid() && in.LookupNetblock != st.LookupNetblock
	if reindexed {
		st.LookupNetblock = in.LookupNetblock
	}
	created := !st.Exists
	changed, capped := created, false
	before := st.Status
	if created {
		st.Exists, st.New, st.Addr = true, true, in.Addr
		st.Status, st.CreatedAt = indicator.StatusActive, now
	}
	for s := Slot(0); s < NumSlots; s++ {
		if !in.Has.Has(s) {
			continue
		}
		had := st.Has.Has(s)
		if s.IsList() {
			added := mergeSorted(st.List(s), *in.List(s))
			if added == 0 {
				continue
			}
			capped = capStored(st.List(s), *in.List(s)) || capped
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
	if capped {
		c.ListsCapped++
	}
	exp := lc.Expiry(st)
	next := st.Status.AfterSighting()
	switch {
	case lc.Allowlisted:
		next = indicator.StatusWhitelisted
	case next == indicator.StatusActive && exp != 0 && exp <= now && st.SightedUntil <= now:
		// A recent sighting in the owner's logs keeps it Active.
		next = indicator.StatusExpired
	}
	st.Status = next
	if !created && next != before {
		changed = true
	}
	if next == indicator.StatusExpired && (created || before != indicator.StatusExpired) {
		c.IndicatorsExpired++
	}
	rewritten := exp != st.ExpiresAt
	st.ExpiresAt = exp
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
	if changed || reindexed || rewritten {
		st.SeenAt = now
		return true
	}
	return false
}
