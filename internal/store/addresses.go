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

// EachRenewed calls fn with the address (or network) and generation of
// every indicator of status ("" for every status) past generation 0: those
// that left a revoked status (Expired, Whitelisted) since they were first
// stored, and so have STIX ids of their own (indicator.Indicator.
// Generation). They are few, and read from the partial index
// indicators_renewed. A non-nil error from fn stops the read and is
// returned.
func (s *Store) EachRenewed(ctx context.Context, status indicator.Status, fn func(netip.Prefix, int64) error) error {
	q, args := `SELECT ip, generation FROM indicators WHERE generation > 0`, []any{}
	if status != "" {
		q, args = q+` AND status = ?`, append(args, string(status))
	}
	rows, err := s.x.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read renewed indicators: %w", err)
	}
	defer rows.Close()
	var (
		b   []byte
		gen int64
	)
	for rows.Next() {
		if err := rows.Scan(&b, &gen); err != nil {
			return fmt.Errorf("read renewed indicators: %w", err)
		}
		var p netip.Prefix
		if len(b) == netblockLen {
			if p, err = parseNetblock(b); err != nil {
				return err
			}
		} else {
			a, err := addrFromKey(b)
			if err != nil {
				return err
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err := fn(p, gen); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read renewed indicators: %w", err)
	}
	return nil
}

// addressCheck is how many rows EachAddress reads between looks at its
// context: database/sql closes the rows when it ends, but only later.
const addressCheck = 1024

// listedQueries read the keys of the Active indicators that have not
// expired, addresses and networks: the first two on SQLite from the
// partial index indicators_expiry alone (its entries hold expires_at and
// the key), without reading a row; the third the rows of the index's
// range up to now (the few the expiry job has yet to mark, and those a
// sighting keeps Active past their feed's expiry: their effective expiry
// is sighted_until, as Indicator's).
var listedQueries = []string{
	`SELECT ip FROM indicators WHERE status = 'Active' AND expires_at > ?`,
	`SELECT ip FROM indicators WHERE status = 'Active' AND expires_at IS NULL`,
	`SELECT ip FROM indicators WHERE ` + sightedPast,
}

// listedKey is a listed indicator's key as sorted in memory: the 16-byte
// address, then 0 for an address or 1 and the prefix length (in the
// 128-bit space) for a network, so that a network follows the address it
// starts at, as in the store.
type listedKey [18]byte

// EachListed calls fn, in the store's key order, with every Active
// indicator whose expiry is after at (or that never expires), an address
// as a single-address prefix, a network (a list feed's CIDR entry) as
// itself: what a plain blocklist lists. It reads keys only, through the
// expiry index, then sorts them in memory (18 bytes each), so a
// million-entry list costs neither rows nor decoding.
func (s *Store) EachListed(ctx context.Context, at time.Time, fn func(netip.Prefix) error) error {
	var keys []listedKey
	for i, q := range listedQueries {
		var args []any
		switch i {
		case 0:
			args = []any{at.Unix()}
		case 2:
			args = []any{at.Unix(), at.Unix()}
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
				var k listedKey
				switch len(b) {
				case 16:
					copy(k[:], b)
				case netblockLen:
					copy(k[:], b[:16])
					k[16], k[17] = 1, b[16]
				default:
					return fmt.Errorf("stored key has %d bytes, want 16 or %d", len(b), netblockLen)
				}
				keys = append(keys, k)
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("read listed addresses and networks: %w", err)
		}
	}
	slices.SortFunc(keys, func(a, b listedKey) int { return bytes.Compare(a[:], b[:]) })
	for i, k := range keys {
		if i%addressCheck == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		a := netip.AddrFrom16([16]byte(k[:16]))
		var p netip.Prefix
		if k[16] == 0 {
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			var err error
			if p, err = parseNetblock(append(k[:16:16], k[17])); err != nil {
				return err
			}
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}
