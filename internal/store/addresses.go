package store

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"forewarn/internal/indicator"
)

// EachAddress calls fn with the address of every indicator of status (""
// for every status), in no particular order, until fn returns false. It
// reads the address column alone, so a caller that only needs addresses
// (TAXII resolving an object id) pays neither attributes nor decoding.
//
// It reads the whole table, so it reads from the exports' pool, as other
// whole-store reads do, and never takes a connection the API and UI need;
// and it stops within addressCheck rows when ctx ends.
func (s *Store) EachAddress(ctx context.Context, status indicator.Status, fn func(netip.Addr) bool) error {
	q, args := `SELECT ip FROM indicators WHERE `+hostKeys, []any{}
	if status != "" {
		q, args = q+` AND status = ?`, append(args, string(status))
	}
	rows, err := s.x.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read addresses: %w", err)
	}
	defer rows.Close()
	var b []byte
	for n := 1; rows.Next(); n++ {
		if n%addressCheck == 0 && ctx.Err() != nil {
			return fmt.Errorf("read addresses: %w", ctx.Err())
		}
		if err := rows.Scan(&b); err != nil {
			return fmt.Errorf("read addresses: %w", err)
		}
		a, err := addrFromKey(b)
		if err != nil {
			return err
		}
		if !fn(a) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read addresses: %w", err)
	}
	return nil
}

// addressCheck is how many rows EachAddress reads between looks at its
// context: database/sql closes the rows when it ends, but only later.
const addressCheck = 1024

// listedQueries read the addresses of the Active indicators that have not
// expired: on SQLite from the partial index indicators_expiry alone (its
// entries hold expires_at and the address), without reading a row.
// Networks (17-byte keys) are left out: blocklists list addresses so far.
var listedQueries = []string{
	`SELECT ip FROM indicators WHERE status = 'Active' AND expires_at > ? AND ` + hostKeys,
	`SELECT ip FROM indicators WHERE status = 'Active' AND expires_at IS NULL AND ` + hostKeys,
}

// EachListedAddress calls fn, in the store's address order, with the
// address of every Active indicator whose expiry is after at (or that
// never expires): what a plain blocklist lists. It reads addresses only,
// through the expiry index, then sorts them in memory (16 bytes each), so
// a million-address list costs neither rows nor decoding.
func (s *Store) EachListedAddress(ctx context.Context, at time.Time, fn func(netip.Addr) error) error {
	var keys [][16]byte
	for i, q := range listedQueries {
		args := []any{}
		if i == 0 {
			args = append(args, at.Unix())
		}
		err := func() error {
			rows, err := s.x.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			var b []byte
			for rows.Next() {
				if err := rows.Scan(&b); err != nil {
					return err
				}
				if len(b) != 16 {
					return fmt.Errorf("stored address has %d bytes, want 16", len(b))
				}
				keys = append(keys, [16]byte(b))
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("read listed addresses: %w", err)
		}
	}
	slices.SortFunc(keys, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	for i, k := range keys {
		if i%addressCheck == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fn(netip.AddrFrom16(k).Unmap()); err != nil {
			return err
		}
	}
	return nil
}
