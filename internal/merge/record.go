package merge

import (
	"encoding/binary"
	"math"
	"net/netip"

	"forewarn/internal/indicator"

	"github.com/cespare/xxhash/v2"
)

// Slot identifies one Seclytics attribute.
type Slot int

// Attribute slots. Their order is the stored order; do not reorder.
const (
	PredictedAt Slot = iota
	PredictedNetblock
	PredictedCategory
	Cluster
	DetectedBy
	DetectedIdentifiers
	DetectedCategories
	DetectedAt
	LastSeenAt
	Importance
	NormalizedImportance

	NumSlots
)

// Names are the guide's attribute names, by slot.
var Names = [NumSlots]string{
	indicator.AttrPredictedAt,
	indicator.AttrPredictedNetblock,
	indicator.AttrPredictedCategory,
	indicator.AttrCluster,
	indicator.AttrDetectedBy,
	indicator.AttrDetectedIdentifiers,
	indicator.AttrDetectedCategories,
	indicator.AttrDetectedAt,
	indicator.AttrLastSeenAt,
	indicator.AttrImportance,
	indicator.AttrNormalizedImportance,
}

// IsList reports whether the slot holds several values.
func (s Slot) IsList() bool {
	return s == DetectedBy || s == DetectedIdentifiers || s == DetectedCategories
}

// Set is a set of slots.
type Set uint16

// Has reports whether s holds slot.
func (s Set) Has(slot Slot) bool { return s&(1<<slot) != 0 }

// With returns s plus slot.
func (s Set) With(slot Slot) Set { return s | 1<<slot }

// Record is one IP's Seclytics values: from one row, or merged.
type Record struct {
	Addr netip.Addr
	Has  Set // which slots carry a value

	PredictedAt       int64 // Unix seconds
	DetectedAt        int64
	LastSeenAt        int64
	PredictedNetblock netip.Prefix
	PredictedCategory string
	Cluster           string
	Importance        float64
	Normalized        string

	// Lists are sorted and free of duplicates.
	DetectedBy          []string
	DetectedIdentifiers []string
	DetectedCategories  []string

	// LookupNetblock is the row's predicted netblock kept for netblock
	// lookups, whatever the selection: context selection decides which
	// attributes an indicator carries, not what the feed may index. It is
	// not an attribute slot (not in Has, never shown as an attribute) and
	// is invalid when no row had a netblock.
	LookupNetblock netip.Prefix
}

// List returns the list held in a list slot.
func (r *Record) List(s Slot) *[]string {
	switch s {
	case DetectedBy:
		return &r.DetectedBy
	case DetectedIdentifiers:
		return &r.DetectedIdentifiers
	case DetectedCategories:
		return &r.DetectedCategories
	}
	panic("merge: not a list slot")
}

// Reset empties r for reuse, keeping list capacity.
func (r *Record) Reset() {
	*r = Record{
		DetectedBy:          r.DetectedBy[:0],
		DetectedIdentifiers: r.DetectedIdentifiers[:0],
		DetectedCategories:  r.DetectedCategories[:0],
	}
}

// sameSingle reports whether single-valued slot s holds the same value in a
// and b.
func sameSingle(a, b *Record, s Slot) bool {
	switch s {
	case PredictedAt:
		return a.PredictedAt == b.PredictedAt
	case DetectedAt:
		return a.DetectedAt == b.DetectedAt
	case LastSeenAt:
		return a.LastSeenAt == b.LastSeenAt
	case PredictedNetblock:
		return a.PredictedNetblock == b.PredictedNetblock
	case PredictedCategory:
		return a.PredictedCategory == b.PredictedCategory
	case Cluster:
		return a.Cluster == b.Cluster
	case Importance:
		return a.Importance == b.Importance
	case NormalizedImportance:
		return a.Normalized == b.Normalized
	}
	panic("merge: not a single-valued slot")
}

// copySingle copies single-valued slot s from src to dst.
func copySingle(dst, src *Record, s Slot) {
	switch s {
	case PredictedAt:
		dst.PredictedAt = src.PredictedAt
	case DetectedAt:
		dst.DetectedAt = src.DetectedAt
	case LastSeenAt:
		dst.LastSeenAt = src.LastSeenAt
	case PredictedNetblock:
		dst.PredictedNetblock = src.PredictedNetblock
	case PredictedCategory:
		dst.PredictedCategory = src.PredictedCategory
	case Cluster:
		dst.Cluster = src.Cluster
	case Importance:
		dst.Importance = src.Importance
	case NormalizedImportance:
		dst.Normalized = src.Normalized
	default:
		panic("merge: not a single-valued slot")
	}
	dst.Has = dst.Has.With(s)
}

// Hash is a 64-bit xxhash digest of the record's values (not its
// address): equal records hash equal, so a re-run can recognise a record it
// merged before without reading the stored values. The values are laid out
// in a buffer on the stack (on the heap only for a record of more than
// 512 bytes) and hashed at once.
func (r *Record) Hash() uint64 {
	b := make([]byte, 0, 512)
	put := func(v uint64) { b = binary.LittleEndian.AppendUint64(b, v) }
	str := func(s string) {
		put(uint64(len(s)))
		b = append(b, s...)
	}
	prefix := func(p netip.Prefix) {
		a := p.Addr().As16()
		b = append(b, a[:]...)
		put(uint64(p.Bits())<<8 | uint64(p.Addr().BitLen()/8))
	}
	put(uint64(r.Has))
	for s := Slot(0); s < NumSlots; s++ {
		if !r.Has.Has(s) {
			continue
		}
		switch s {
		case PredictedAt:
			put(uint64(r.PredictedAt))
		case DetectedAt:
			put(uint64(r.DetectedAt))
		case LastSeenAt:
			put(uint64(r.LastSeenAt))
		case PredictedNetblock:
			prefix(r.PredictedNetblock)
		case PredictedCategory:
			str(r.PredictedCategory)
		case Cluster:
			str(r.Cluster)
		case Importance:
			put(math.Float64bits(r.Importance))
		case NormalizedImportance:
			str(r.Normalized)
		default:
			l := *r.List(s)
			put(uint64(len(l)))
			for _, v := range l {
				str(v)
			}
		}
	}
	// Only when present, so that a record without a netblock hashes as it
	// did before lookup netblocks were kept. A stored row written before
	// then (no lookup netblock) therefore differs from its re-run's hash
	// and is rewritten once, which fills the column in.
	if p := r.LookupNetblock; p.IsValid() {
		prefix(p)
	}
	if v := xxhash.Sum64(b); v != 0 {
		return v
	}
	return 1 // 0 means "unknown"
}
