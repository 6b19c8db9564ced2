package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"forewarn/internal/indicator"
)

// ListAttr is one attribute a list feed gives an entry: its name, as the
// feed's definition spells it, and its typed value.
type ListAttr struct {
	Name  string
	Value indicator.Value
}

// Limits of one entry's attributes, so that a hostile list cannot make one
// membership row, or the memory that decodes it, grow without bound.
const (
	MaxListAttrs      = 64
	MaxListAttrBytes  = 64 << 10
	maxListAttrValues = 1000
)

// ErrBadEntry is wrapped when a list entry cannot be stored: an invalid
// prefix, or attributes beyond the limits.
var ErrBadEntry = errors.New("bad list entry")

// appendListAttrs encodes attrs as memberships.attrs stores them: a count,
// then per attribute its name, its kind and its value. The encoding is
// deterministic, so that equal attributes hash equal.
func appendListAttrs(b []byte, attrs []ListAttr) ([]byte, error) {
	if len(attrs) > MaxListAttrs {
		return nil, fmt.Errorf("%d attributes, at most %d: %w", len(attrs), MaxListAttrs, ErrBadEntry)
	}
	start := len(b)
	b = binary.AppendUvarint(b, uint64(len(attrs)))
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	for _, a := range attrs {
		str(a.Name)
		v := a.Value
		b = append(b, byte(v.Kind))
		switch v.Kind {
		case indicator.KindNone:
		case indicator.KindText:
			str(v.Text)
		case indicator.KindNumber:
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Number))
		case indicator.KindDate:
			b = binary.AppendVarint(b, v.Time.Unix())
		case indicator.KindCIDR:
			if !v.Prefix.IsValid() {
				return nil, fmt.Errorf("attribute %s: invalid CIDR: %w", a.Name, ErrBadEntry)
			}
			b = append(b, netblockBlob(v.Prefix).([]byte)...)
		case indicator.KindList:
			if len(v.List) > maxListAttrValues {
				return nil, fmt.Errorf("attribute %s: %d values, at most %d: %w", a.Name, len(v.List), maxListAttrValues, ErrBadEntry)
			}
			b = binary.AppendUvarint(b, uint64(len(v.List)))
			for _, s := range v.List {
				str(s)
			}
		default:
			return nil, fmt.Errorf("attribute %s: unknown kind %d: %w", a.Name, v.Kind, ErrBadEntry)
		}
		if len(b)-start > MaxListAttrBytes {
			return nil, fmt.Errorf("attributes of more than %d bytes: %w", MaxListAttrBytes, ErrBadEntry)
		}
	}
	return b, nil
}

// decodeListAttrs reads what appendListAttrs wrote.
func decodeListAttrs(b []byte) ([]ListAttr, error) {
	if len(b) == 0 {
		return nil, nil
	}
	bad := errors.New("stored list attributes are malformed")
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	str := func() (string, bool) {
		n, ok := uv()
		if !ok || n > uint64(len(b)) {
			return "", false
		}
		s := string(b[:n])
		b = b[n:]
		return s, true
	}
	n, ok := uv()
	if !ok || n > MaxListAttrs {
		return nil, bad
	}
	attrs := make([]ListAttr, 0, n)
	for range n {
		name, ok := str()
		if !ok || len(b) == 0 {
			return nil, bad
		}
		v := indicator.Value{Kind: indicator.Kind(b[0])}
		b = b[1:]
		switch v.Kind {
		case indicator.KindNone:
		case indicator.KindText:
			if v.Text, ok = str(); !ok {
				return nil, bad
			}
		case indicator.KindNumber:
			if len(b) < 8 {
				return nil, bad
			}
			v.Number = math.Float64frombits(binary.BigEndian.Uint64(b))
			b = b[8:]
		case indicator.KindDate:
			t, n := binary.Varint(b)
			if n <= 0 {
				return nil, bad
			}
			b = b[n:]
			v.Time = time.Unix(t, 0).UTC()
		case indicator.KindCIDR:
			if len(b) < netblockLen {
				return nil, bad
			}
			p, err := parseNetblock(b[:netblockLen])
			if err != nil {
				return nil, err
			}
			v.Prefix = p
			b = b[netblockLen:]
		case indicator.KindList:
			m, ok := uv()
			if !ok || m > maxListAttrValues {
				return nil, bad
			}
			v.List = make([]string, 0, m)
			for range m {
				s, ok := str()
				if !ok {
					return nil, bad
				}
				v.List = append(v.List, s)
			}
		default:
			return nil, bad
		}
		attrs = append(attrs, ListAttr{Name: name, Value: v})
	}
	if len(b) != 0 {
		return nil, bad
	}
	return attrs, nil
}

// prefixKey is the stored key of a list entry: a host's 16-byte key, or a
// network's 17 bytes (its masked address in 16-byte form, then its length
// in the 128-bit space), as migration 009 describes.
func prefixKey(p netip.Prefix) []byte {
	p = p.Masked()
	if p.IsSingleIP() {
		return key(p.Addr().Unmap())
	}
	return netblockBlob(p).([]byte)
}

// hostKeys is the SQL condition true for the rows keyed by a host (16
// bytes): every reader that turns a key into an address adds it, since
// networks (17 bytes) are read as prefixes.
const hostKeys = "length(ip) = 16"
