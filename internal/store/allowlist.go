package store

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"forewarn/internal/allowlist"
	"forewarn/internal/indicator"
)

// prefixKeys returns the first and last stored keys of a prefix: the range
// of indicators it holds.
func prefixKeys(p netip.Prefix) (lo, hi []byte) {
	p = p.Masked()
	first := p.Addr().As16()
	last := first
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		last[i/8] |= 1 << (7 - i%8)
	}
	return first[:], last[:]
}

// whitelist marks the indicators in each range Whitelisted, one key-range
// UPDATE per range, and returns how many changed.
func whitelist(ctx context.Context, ex execer, ranges []netip.Prefix, now int64) (int64, error) {
	var total int64
	for _, p := range ranges {
		lo, hi := prefixKeys(p)
		res, err := ex.ExecContext(ctx, `UPDATE indicators SET status = ?, updated_at = ?
			WHERE ip BETWEEN ? AND ? AND status <> ?`,
			string(indicator.StatusWhitelisted), now, lo, hi, string(indicator.StatusWhitelisted))
		if err != nil {
			return total, fmt.Errorf("whitelist indicators in %s: %w", p, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// Whitelist marks, in the run's transaction, every indicator in the given
// ranges Whitelisted.
func (in *ingest) Whitelist(ctx context.Context, ranges []netip.Prefix, now time.Time) (int64, error) {
	if err := in.restoreIndexes(ctx); err != nil {
		return 0, err
	}
	return whitelist(ctx, in.tx, ranges, now.Unix())
}

// AllowlistEntries returns the entries people added, by address. The
// built-in special-purpose ranges are not stored; see allowlist.Special.
func (s *Store) AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT cidr, comment, added_by, added_at FROM allowlist`)
	if err != nil {
		return nil, fmt.Errorf("read allow-list: %w", err)
	}
	defer rows.Close()
	var out []allowlist.Entry
	for rows.Next() {
		var (
			cidr string
			e    allowlist.Entry
			at   int64
		)
		if err := rows.Scan(&cidr, &e.Comment, &e.AddedBy, &at); err != nil {
			return nil, fmt.Errorf("read allow-list: %w", err)
		}
		if e.Prefix, err = netip.ParsePrefix(cidr); err != nil {
			return nil, fmt.Errorf("read allow-list: stored entry %q: %w", cidr, err)
		}
		e.AddedAt = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read allow-list: %w", err)
	}
	sortEntries(out)
	return out, nil
}

// sortEntries orders entries by address, then by prefix length, as keys
// sort (IPv4 first).
func sortEntries(es []allowlist.Entry) {
	slices.SortFunc(es, func(a, b allowlist.Entry) int {
		ka, kb := a.Prefix.Addr().As16(), b.Prefix.Addr().As16()
		if c := bytes.Compare(ka[:], kb[:]); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
}

// AddAllowlistEntry adds e (its Prefix masked; AddedAt set to now if zero)
// and, in the same transaction, marks every stored indicator in it
// Whitelisted; it returns e as stored and how many indicators it
// whitelisted. An entry for the same prefix is an error wrapping
// ErrConflict.
func (s *Store) AddAllowlistEntry(ctx context.Context, e allowlist.Entry) (allowlist.Entry, int64, error) {
	e.Prefix, e.BuiltIn, e.RFC = e.Prefix.Masked(), false, ""
	if !e.Prefix.IsValid() {
		return e, 0, fmt.Errorf("allow-list entry: no CIDR: %w", ErrBadQuery)
	}
	if e.AddedAt.IsZero() {
		e.AddedAt = time.Now()
	}
	e.AddedAt = e.AddedAt.UTC().Truncate(time.Second)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return e, 0, fmt.Errorf("add %s to the allow-list: %w", e.Prefix, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO allowlist (cidr, comment, added_by, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (cidr) DO NOTHING`, e.Prefix.String(), e.Comment, e.AddedBy, e.AddedAt.Unix())
	if err != nil {
		return e, 0, fmt.Errorf("add %s to the allow-list: %w", e.Prefix, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return e, 0, fmt.Errorf("%s is already on the allow-list: %w", e.Prefix, ErrConflict)
	}
	n, err := whitelist(ctx, tx, []netip.Prefix{e.Prefix}, e.AddedAt.Unix())
	if err != nil {
		return e, 0, err
	}
	if err := tx.Commit(); err != nil {
		return e, 0, fmt.Errorf("add %s to the allow-list: %w", e.Prefix, err)
	}
	return e, n, nil
}

// RemoveAllowlistEntry removes the entry for p. The indicators it
// whitelisted stay Whitelisted: a person may have whitelisted them for
// other reasons too, and un-blocking is the safe default; set their status
// to change it. A prefix not on the list is an error wrapping ErrNotFound.
func (s *Store) RemoveAllowlistEntry(ctx context.Context, p netip.Prefix) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM allowlist WHERE cidr = ?`, p.Masked().String())
	if err != nil {
		return fmt.Errorf("remove %s from the allow-list: %w", p, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s is not on the allow-list (forewarn allowlist list shows it): %w", p.Masked(), ErrNotFound)
	}
	return nil
}
