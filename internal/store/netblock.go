package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/netip"

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
	s_predicted_category, s_cluster
	FROM indicators WHERE s_lookup_netblock IS NOT NULL ORDER BY ip`
	selectNetblockMembersOf = `SELECT ip, status, s_lookup_netblock, s_importance, s_detected_categories,
	s_predicted_category, s_cluster
	FROM indicators WHERE s_lookup_netblock IN (SELECT unhex(value) FROM json_each(?)) ORDER BY ip`
	// PostgreSQL's spelling of the same.
	selectNetblockMembersOfPG = `SELECT ip, status, s_lookup_netblock, s_importance, s_detected_categories,
	s_predicted_category, s_cluster
	FROM indicators WHERE s_lookup_netblock IN (SELECT decode(value, 'hex') FROM json_array_elements_text(?::json)) ORDER BY ip`
)

// EachNetblockMember calls fn for every indicator that has a lookup
// netblock, in address order, streaming from the read pool: memory does not
// grow with the store. The member and its Categories slice are reused: fn
// must not keep them after it returns (the strings it may keep). An error
// from fn stops the walk and is returned.
func (s *Store) EachNetblockMember(ctx context.Context, fn func(*NetblockMember) error) error {
	return eachNetblockMember(ctx, s.r, fn)
}

// EachNetblockMemberOf is EachNetblockMember restricted to the members of
// the given netblocks. It still reads the whole table, but inside SQLite:
// only the matching rows are decoded, which makes it about ten times
// cheaper than streaming every member when few netblocks are wanted.
func (s *Store) EachNetblockMemberOf(ctx context.Context, netblocks []netip.Prefix, fn func(*NetblockMember) error) error {
	return eachNetblockMemberOf(ctx, s.r, netblocks, fn)
}

func eachNetblockMemberOf(ctx context.Context, q querier, netblocks []netip.Prefix, fn func(*NetblockMember) error) error {
	if len(netblocks) == 0 {
		return nil
	}
	// One parameter whatever the number of netblocks: a JSON array of
	// their stored forms in hex.
	arg := make([]byte, 0, 2+len(netblocks)*(2*netblockLen+3))
	arg = append(arg, '[')
	for i, p := range netblocks {
		b, _ := netblockBlob(p).([]byte)
		if b == nil {
			return fmt.Errorf("read netblock members: %v is not a netblock", p)
		}
		if i > 0 {
			arg = append(arg, ',')
		}
		arg = append(arg, '"')
		arg = hex.AppendEncode(arg, b)
		arg = append(arg, '"')
	}
	arg = append(arg, ']')
	query := selectNetblockMembersOf
	if dialectOf(q) == postgresDialect {
		query = selectNetblockMembersOfPG
	}
	return scanNetblockMembers(ctx, q, query, []any{string(arg)}, fn)
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
