package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// NetblockMember is an indicator that has a lookup netblock, with what a
// netblock summary needs of it.
type NetblockMember struct {
	Addr     netip.Addr
	Netblock netip.Prefix
	Status   indicator.Status
	// Importance is valid when HasImportance: Importance is stored only
	// when it is selected as context.
	Importance    float64
	HasImportance bool
	// Categories are the indicator's detected categories and its predicted
	// category, as far as they are stored (selected as context); neither
	// sorted nor free of duplicates.
	Categories []string
	// Cluster is empty when none is stored.
	Cluster string
}

const (
	selectNetblockMembers = `SELECT ip, status, s_lookup_netblock, s_importance, s_detected_categories,
	s_predicted_category, ` + clusterName + `
	FROM indicators WHERE s_lookup_netblock IS NOT NULL ORDER BY ip`
	// A netblock's members lie inside it, so its members are a key range
	// of the table: read as one, the lookup does not scan the store. A
	// group of nested netblocks is one range, that of the widest.
	selectNetblockMembersIn = `SELECT ip, status, s_lookup_netblock, s_importance, s_detected_categories,
	s_predicted_category, ` + clusterName + `
	FROM indicators WHERE ip BETWEEN ? AND ? AND s_lookup_netblock `
)

// EachNetblockMember calls fn for every indicator that has a lookup
// netblock, in address order, streaming from the read pool: memory does not
// grow with the store. The member and its Categories slice are reused: fn
// must not keep them after it returns (the strings it may keep). An error
// from fn stops the walk and is returned.
func (s *Store) EachNetblockMember(ctx context.Context, fn func(*NetblockMember) error) error {
	return eachNetblockMember(ctx, s.r, fn)
}

// NetblockImportance is a stored lookup netblock and the highest
// Importance among the indicators naming it: what a match needs of the
// netblocks, without the rest of a lookup summary.
type NetblockImportance struct {
	Netblock netip.Prefix
	// MaxImportance is valid when HasImportance (Importance is stored
	// only when selected as context).
	MaxImportance float64
	HasImportance bool
}

// EachNetblockImportance calls fn once per distinct lookup netblock of the
// store, in no particular order. It groups in SQL, so Go reads one row
// per netblock rather than one per member as EachNetblockMember does: for
// `forewarn match`, which needs no more, this was most of its start-up
// (1.65 s of CPU at a million indicators, against about 0.6 s).
func (s *Store) EachNetblockImportance(ctx context.Context, fn func(NetblockImportance) error) error {
	rows, err := s.r.QueryContext(ctx, `SELECT s_lookup_netblock, MAX(s_importance) FROM indicators
		WHERE s_lookup_netblock IS NOT NULL GROUP BY s_lookup_netblock`)
	if err != nil {
		return fmt.Errorf("read netblocks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			nb  []byte
			imp sql.NullFloat64
		)
		if err := rows.Scan(&nb, &imp); err != nil {
			return fmt.Errorf("read netblocks: %w", err)
		}
		p, err := parseNetblock(nb)
		if err != nil {
			return fmt.Errorf("read netblocks: %w", err)
		}
		if err := fn(NetblockImportance{Netblock: p, MaxImportance: imp.Float64, HasImportance: imp.Valid}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read netblocks: %w", err)
	}
	return nil
}

// EachNetblockMemberOf is EachNetblockMember restricted to the members of
// the given netblocks, in address order. Each netblock (or each group of
// nested ones) is read as the key range of the addresses it holds, so the
// cost grows with the members of the widest netblock asked, not with the
// store. An indicator whose netblock does not contain it is not found
// (prediction keeps no such netblock).
func (s *Store) EachNetblockMemberOf(ctx context.Context, netblocks []netip.Prefix, fn func(*NetblockMember) error) error {
	return eachNetblockMemberOf(ctx, s.r, netblocks, fn)
}

// netblockRange is a group of nested netblocks: the key range of the
// widest and the stored forms of all of them.
type netblockRange struct {
	lo, hi []byte
	blobs  []any
}

// netblockRanges groups netblocks into disjoint key ranges, in address
// order: CIDR prefixes are either nested or disjoint, so after sorting by
// first address, widest first, each one either lies in the range of the
// group before it or starts a new one.
func netblockRanges(netblocks []netip.Prefix) ([]netblockRange, error) {
	nbs := make([]netip.Prefix, 0, len(netblocks))
	for _, p := range netblocks {
		if !p.IsValid() {
			return nil, fmt.Errorf("read netblock members: %v is not a netblock", p)
		}
		p = p.Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		nbs = append(nbs, p)
	}
	bits := func(p netip.Prefix) int { // in the 128-bit key space
		if p.Addr().Is4() {
			return p.Bits() + 96
		}
		return p.Bits()
	}
	slices.SortFunc(nbs, func(a, b netip.Prefix) int {
		if c := bytes.Compare(key(a.Addr()), key(b.Addr())); c != 0 {
			return c
		}
		return bits(a) - bits(b)
	})
	nbs = slices.Compact(nbs)
	var out []netblockRange
	for _, p := range nbs {
		lo := key(p.Addr())
		if n := len(out); n > 0 && bytes.Compare(lo, out[n-1].hi) <= 0 {
			out[n-1].blobs = append(out[n-1].blobs, netblockBlob(p))
			continue
		}
		hi := slices.Clone(lo)
		for i, b := bits(p), len(hi)*8; i < b; i++ {
			hi[i/8] |= 0x80 >> (i % 8)
		}
		out = append(out, netblockRange{lo: lo, hi: hi, blobs: []any{netblockBlob(p)}})
	}
	return out, nil
}

func eachNetblockMemberOf(ctx context.Context, q querier, netblocks []netip.Prefix, fn func(*NetblockMember) error) error {
	ranges, err := netblockRanges(netblocks)
	if err != nil {
		return err
	}
	for _, r := range ranges {
		args := append([]any{r.lo, r.hi}, r.blobs...)
		if err := scanNetblockMembers(ctx, q, netblockMembersQuery(len(r.blobs)), args, fn); err != nil {
			return err
		}
	}
	return nil
}

// netblockMembersQuery reads the members of n nested netblocks in one key
// range: its arguments are the range's first and last key, then the n
// stored netblocks.
func netblockMembersQuery(n int) string {
	if n == 1 {
		return selectNetblockMembersIn + "= ? ORDER BY ip"
	}
	return selectNetblockMembersIn + "IN (?" + strings.Repeat(", ?", n-1) + ") ORDER BY ip"
}

func eachNetblockMember(ctx context.Context, q querier, fn func(*NetblockMember) error) error {
	return scanNetblockMembers(ctx, q, selectNetblockMembers, nil, fn)
}

func scanNetblockMembers(ctx context.Context, q querier, query string, args []any, fn func(*NetblockMember) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read netblock members: %w", err)
	}
	defer rows.Close()
	// listSep is one byte, so splitting is a byte search.
	var _ [1 - len(listSep)]struct{}
	var (
		m                  NetblockMember
		ip, nb             sql.RawBytes
		status             sql.RawBytes
		imp                sql.NullFloat64
		cats, pcat, clustr sql.RawBytes
		// Categories and clusters repeat across millions of rows: share
		// one string per value instead of allocating one per row.
		in merge.Interner
	)
	for rows.Next() {
		if err := rows.Scan(&ip, &status, &nb, &imp, &cats, &pcat, &clustr); err != nil {
			return fmt.Errorf("read netblock members: %w", err)
		}
		if m.Addr, err = addrFromKey(ip); err != nil {
			return fmt.Errorf("read netblock members: %w", err)
		}
		if m.Netblock, err = parseNetblock(nb); err != nil {
			return fmt.Errorf("read netblock members: indicator %s: %w", m.Addr, err)
		}
		m.Status = indicator.Status(in.String(status))
		m.Importance, m.HasImportance = imp.Float64, imp.Valid
		m.Categories = m.Categories[:0]
		for rest := cats; len(rest) > 0; {
			v := rest
			if i := bytes.IndexByte(rest, listSep[0]); i >= 0 {
				v, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			m.Categories = append(m.Categories, in.String(v))
		}
		if len(pcat) > 0 {
			m.Categories = append(m.Categories, in.String(pcat))
		}
		m.Cluster = in.String(clustr)
		if err := fn(&m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read netblock members: %w", err)
	}
	return nil
}
