package merge

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"slices"

	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
)

// KeyLen is the length of a staged key: the address (16 bytes), then the
// merge order: Last Seen At (8), whether there is an importance (1), the
// importance (8) and the row's sequence number in the dump (8).
const KeyLen = 16 + 8 + 1 + 8 + 8

// Selection says which attributes a run writes.
type Selection struct {
	slots Set
}

// NewSelection builds a selection from the guide's context names.
// Normalized Importance is written when normalize is on, even if Importance
// is not selected.
func NewSelection(context []string, normalize bool) Selection {
	var sel Selection
	for s := Slot(0); s < NumSlots; s++ {
		if slices.Contains(context, Names[s]) {
			sel.slots = sel.slots.With(s)
		}
	}
	if normalize {
		sel.slots = sel.slots.With(NormalizedImportance)
	}
	return sel
}

// lookupFlag, set in a staged value's header above the slot bits, says that
// the row has a lookup netblock (Record.LookupNetblock). When the Predicted
// Netblock slot is staged too, the two are the same value and it is not
// repeated; otherwise it follows the last slot, encoded like that slot.
const lookupFlag = 1 << 15

// The slot bits and lookupFlag share the header's 16 bits.
var _ [15 - NumSlots]struct{}

// Mapper encodes kept rows for staging. It reuses its buffers: the returned
// slices are valid until the next call.
type Mapper struct {
	sel Selection
	key []byte
	val []byte
}

// NewMapper returns a mapper for a selection.
func NewMapper(sel Selection) *Mapper {
	return &Mapper{sel: sel, key: make([]byte, KeyLen), val: make([]byte, 0, 256)}
}

// Map encodes row as a staged key and value. seq is the row's position in
// the dump; it breaks ties in favour of the later row.
func (m *Mapper) Map(row *prediction.Row, seq uint64) (key, val []byte) {
	k := m.key[:0]
	a16 := row.Addr.As16()
	k = append(k, a16[:]...)
	k = binary.BigEndian.AppendUint64(k, orderedInt(row.LastSeenAt))
	if row.HasImportance {
		k = append(k, 1)
		k = binary.BigEndian.AppendUint64(k, math.Float64bits(row.Importance)) // >= 0: bits sort like values
	} else {
		k = append(k, 0)
		k = binary.BigEndian.AppendUint64(k, 0)
	}
	k = binary.BigEndian.AppendUint64(k, seq)

	v := m.val[:2]
	var has Set
	put := func(s Slot, ok bool) bool {
		if ok && m.sel.slots.Has(s) {
			has = has.With(s)
			return true
		}
		return false
	}
	if put(PredictedAt, row.PredictedAt != prediction.NoTime) {
		v = binary.AppendVarint(v, row.PredictedAt)
	}
	if put(PredictedNetblock, row.PredictedNetblock.IsValid()) {
		v = appendPrefix(v, row.PredictedNetblock)
	}
	if put(PredictedCategory, len(row.PredictedCategory) > 0) {
		v = appendBytes(v, row.PredictedCategory)
	}
	if put(Cluster, len(row.Cluster) > 0) {
		v = appendBytes(v, row.Cluster)
	}
	for _, l := range []struct {
		s    Slot
		vals [][]byte
	}{{DetectedBy, row.DetectedBy}, {DetectedIdentifiers, row.DetectedIdentifiers}, {DetectedCategories, row.DetectedCategories}} {
		if put(l.s, len(l.vals) > 0) {
			v = binary.AppendUvarint(v, uint64(len(l.vals)))
			for _, x := range l.vals {
				v = appendBytes(v, x)
			}
		}
	}
	if put(DetectedAt, row.DetectedAt != prediction.NoTime) {
		v = binary.AppendVarint(v, row.DetectedAt)
	}
	if put(LastSeenAt, row.LastSeenAt != prediction.NoTime) {
		v = binary.AppendVarint(v, row.LastSeenAt)
	}
	if put(Importance, row.HasImportance) {
		v = binary.BigEndian.AppendUint64(v, math.Float64bits(row.Importance))
	}
	if put(NormalizedImportance, row.HasImportance) {
		v = append(v, normCode(indicator.NormalizeImportance(row.Importance)))
	}
	header := uint16(has)
	if row.PredictedNetblock.IsValid() {
		// Kept for lookups whatever the selection.
		header |= lookupFlag
		if !has.Has(PredictedNetblock) {
			v = appendPrefix(v, row.PredictedNetblock)
		}
	}
	binary.BigEndian.PutUint16(v[:2], header)
	m.key, m.val = k, v
	return k, v
}

// orderedInt maps an int64 to a uint64 with the same order.
func orderedInt(x int64) uint64 { return uint64(x) ^ (1 << 63) }

// prefixLen is the staged size of a netblock: its 16-byte address, its
// length and its family (4 or 6).
const prefixLen = 18

func appendPrefix(dst []byte, p netip.Prefix) []byte {
	b := p.Addr().As16()
	dst = append(dst, b[:]...)
	dst = append(dst, byte(p.Bits()))
	if p.Addr().Is4() {
		return append(dst, 4)
	}
	return append(dst, 6)
}

func (d *decoder) prefix() netip.Prefix {
	b := d.take(prefixLen)
	if len(b) != prefixLen {
		return netip.Prefix{}
	}
	a := netip.AddrFrom16([16]byte(b[:16]))
	if b[17] == 4 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, int(b[16]))
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func normCode(s string) byte {
	switch s {
	case indicator.High:
		return 2
	case indicator.Medium:
		return 1
	}
	return 0
}

var normNames = [3]string{indicator.Low, indicator.Medium, indicator.High}

// ErrCorruptStage means a staged record could not be decoded: a bug, or a
// damaged spill file.
var ErrCorruptStage = errors.New("merge: corrupt staged record")

// KeyAddr returns the address a staged key belongs to.
func KeyAddr(key []byte) netip.Addr {
	return netip.AddrFrom16([16]byte(key[:16])).Unmap()
}

// SameAddr reports whether two staged keys belong to the same address.
func SameAddr(a, b []byte) bool { return string(a[:16]) == string(b[:16]) }

// Decode decodes a staged value into r (after r.Reset), for the address in
// key. Strings are interned through in, so that the many rows sharing a
// cluster or a category share one string.
func Decode(key, val []byte, r *Record, in *Interner) error {
	r.Reset()
	r.Addr = KeyAddr(key)
	if len(val) < 2 {
		return ErrCorruptStage
	}
	d := decoder{b: val[2:]}
	header := binary.BigEndian.Uint16(val)
	r.Has = Set(header &^ lookupFlag)
	if r.Has.Has(PredictedAt) {
		r.PredictedAt = d.varint()
	}
	if r.Has.Has(PredictedNetblock) {
		r.PredictedNetblock = d.prefix()
	}
	if r.Has.Has(PredictedCategory) {
		r.PredictedCategory = in.String(d.bytes())
	}
	if r.Has.Has(Cluster) {
		r.Cluster = in.String(d.bytes())
	}
	for _, s := range []Slot{DetectedBy, DetectedIdentifiers, DetectedCategories} {
		if !r.Has.Has(s) {
			continue
		}
		n := d.uvarint()
		l := r.List(s)
		for i := uint64(0); i < n && d.err == nil; i++ {
			*l = append(*l, in.String(d.bytes()))
		}
		*l = sortList(*l)
	}
	if r.Has.Has(DetectedAt) {
		r.DetectedAt = d.varint()
	}
	if r.Has.Has(LastSeenAt) {
		r.LastSeenAt = d.varint()
	}
	if r.Has.Has(Importance) {
		if b := d.take(8); len(b) == 8 {
			r.Importance = math.Float64frombits(binary.BigEndian.Uint64(b))
		}
	}
	if r.Has.Has(NormalizedImportance) {
		if b := d.take(1); len(b) == 1 && b[0] < 3 {
			r.Normalized = normNames[b[0]]
		} else {
			d.err = ErrCorruptStage
		}
	}
	if header&lookupFlag != 0 {
		if r.Has.Has(PredictedNetblock) {
			r.LookupNetblock = r.PredictedNetblock
		} else {
			r.LookupNetblock = d.prefix()
		}
	}
	if d.err != nil || len(d.b) != 0 {
		return ErrCorruptStage
	}
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil || n > len(d.b) {
		d.err = ErrCorruptStage
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = ErrCorruptStage
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrCorruptStage
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte { return d.take(int(d.uvarint())) }

// Interner shares equal strings. It is bounded: once full, it forgets
// everything and starts again.
type Interner struct {
	m map[string]string
}

const internMax = 1 << 16

// String returns a string equal to b, shared with earlier equal ones.
func (in *Interner) String(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil || len(in.m) >= internMax {
		in.m = make(map[string]string, 1024)
	}
	s := string(b)
	in.m[s] = s
	return s
}
