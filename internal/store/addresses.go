package store

import (
	"context"
	"fmt"
	"net/netip"

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
