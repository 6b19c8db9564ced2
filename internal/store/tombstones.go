package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"forewarn/internal/indicator"
)

// TombstoneRetention is how long a purged indicator's tombstone is kept
// (and published revoked by TAXII and the stix bundle): a TAXII consumer
// that polls less often than this keeps the purged indicators live.
const TombstoneRetention = 30 * 24 * time.Hour

// writeTombstonesSQL records, before a purge deletes them, the indicators
// that match its condition (appended): their key, generation, created_at
// and renewed_at, purged at the argument.
const writeTombstonesSQL = `INSERT INTO tombstones (ip, generation, created_at, renewed_at, purged_at)
	SELECT ip, generation, created_at, renewed_at, ? FROM indicators WHERE `

// writeTombstonesEnd makes a purge of an address that has a tombstone
// (which an ingest should have removed) replace it.
const writeTombstonesEnd = ` ON CONFLICT (ip) DO UPDATE SET generation = excluded.generation,
	created_at = excluded.created_at, renewed_at = excluded.renewed_at, purged_at = excluded.purged_at`

// renewTombstonedSQL gives the indicators that have a tombstone its
// generation + 1. It is driven by the tombstones, each indicator looked up
// by key: SQLite plans the join form (UPDATE ... FROM tombstones) as a
// scan of every indicator.
const renewTombstonedSQL = `UPDATE indicators
	SET generation = (SELECT t.generation + 1 FROM tombstones t WHERE t.ip = indicators.ip), renewed_at = updated_at
	WHERE ip IN (SELECT ip FROM tombstones)`

// deleteRenewedTombstonesSQL deletes the tombstones of the addresses
// stored again.
const deleteRenewedTombstonesSQL = `DELETE FROM tombstones
	WHERE EXISTS (SELECT 1 FROM indicators i WHERE i.ip = tombstones.ip)`

// applyTombstones gives the indicators that have a tombstone (those a
// purge deleted and the transaction inserted again) the generation after
// the tombstone's, renewed at their updated_at, and deletes those
// tombstones. It is called once per write transaction that inserted
// indicators, before it commits: one look at the table when it is empty
// (the usual case), and set-based statements when it is not, so that the
// ingest pays nothing per row. Both statements cost about the number of
// tombstones, whatever the number of indicators. The generation trigger
// (SQLite 030, PostgreSQL 023) does not fire: the status is not set.
func applyTombstones(ctx context.Context, t *tx) error {
	var any bool
	if err := t.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tombstones)`).Scan(&any); err != nil {
		return fmt.Errorf("read tombstones: %w", err)
	}
	if !any {
		return nil
	}
	if _, err := t.ExecContext(ctx, renewTombstonedSQL); err != nil {
		return fmt.Errorf("renew purged indicators ingested again: %w", err)
	}
	if _, err := t.ExecContext(ctx, deleteRenewedTombstonesSQL); err != nil {
		return fmt.Errorf("delete the tombstones of indicators ingested again: %w", err)
	}
	return nil
}

// dropOldTombstones deletes the tombstones older than TombstoneRetention.
func dropOldTombstones(ctx context.Context, ex execer, now int64) error {
	if _, err := ex.ExecContext(ctx, `DELETE FROM tombstones WHERE purged_at < ?`,
		now-int64(TombstoneRetention/time.Second)); err != nil {
		return fmt.Errorf("delete tombstones older than %s: %w", TombstoneRetention, err)
	}
	return nil
}

// TombstoneQuery selects a page of tombstones, in purge order (then key).
type TombstoneQuery struct {
	// PurgedSince keeps those purged at or after it (zero: all).
	PurgedSince time.Time
	// Cursor continues a listing: a page's Next, or CursorAfter(t,
	// "updated") of a tombstone read.
	Cursor string
	// Limit is the page size (default 100, at most 1000).
	Limit int
}

// TombstonePage is a page of tombstones and the cursor of the next one
// ("" at the end).
type TombstonePage struct {
	Tombstones []indicator.Indicator
	Next       string
}

const selectTombstones = `SELECT ip, generation, created_at, renewed_at, purged_at FROM tombstones`

// SearchTombstones reads a page of the tombstones of purged indicators.
// Each is an indicator.Indicator holding only what a tombstone keeps: the
// address (or network), Generation, CreatedAt, RenewedAt, and UpdatedAt,
// the purge time.
func (s *Store) SearchTombstones(ctx context.Context, q TombstoneQuery) (TombstonePage, error) {
	var page TombstonePage
	limit, err := pageLimit(q.Limit, 100, 1000)
	if err != nil {
		return page, err
	}
	so := indicatorSorts["updated"]
	sqlq, args := selectTombstones+` WHERE purged_at >= ?`, []any{q.PurgedSince.Unix()}
	if q.PurgedSince.IsZero() {
		args[0] = int64(0)
	}
	if q.Cursor != "" {
		c, err := decodeIndicatorCursor(q.Cursor, so.code)
		if err != nil {
			return page, err
		}
		sqlq += ` AND (purged_at > ? OR (purged_at = ? AND ip > ?))`
		args = append(args, int64(c.key), int64(c.key), c.storedKey())
	}
	rows, err := s.r.QueryContext(ctx, sqlq+` ORDER BY purged_at, ip LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return page, fmt.Errorf("read tombstones: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ind, err := scanTombstone(rows)
		if err != nil {
			return page, err
		}
		page.Tombstones = append(page.Tombstones, ind)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("read tombstones: %w", err)
	}
	if len(page.Tombstones) > limit {
		page.Tombstones = page.Tombstones[:limit]
		if page.Next, err = CursorAfter(&page.Tombstones[limit-1], "updated"); err != nil {
			return page, err
		}
	}
	return page, nil
}

// EachTombstone calls fn with every tombstone, as SearchTombstones reads
// them, in no particular order. It reads from the exports' pool; a
// non-nil error from fn stops it and is returned.
func (s *Store) EachTombstone(ctx context.Context, fn func(*indicator.Indicator) error) error {
	rows, err := s.x.QueryContext(ctx, selectTombstones)
	if err != nil {
		return fmt.Errorf("read tombstones: %w", err)
	}
	defer rows.Close()
	for n := 1; rows.Next(); n++ {
		if n%addressCheck == 0 && ctx.Err() != nil {
			return fmt.Errorf("read tombstones: %w", ctx.Err())
		}
		ind, err := scanTombstone(rows)
		if err != nil {
			return err
		}
		if err := fn(&ind); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read tombstones: %w", err)
	}
	return nil
}

func scanTombstone(rows *sql.Rows) (indicator.Indicator, error) {
	var (
		b                []byte
		gen, created, at int64
		renewed          sql.NullInt64
		ind              indicator.Indicator
	)
	if err := rows.Scan(&b, &gen, &created, &renewed, &at); err != nil {
		return ind, fmt.Errorf("read tombstones: %w", err)
	}
	if len(b) == netblockLen {
		p, err := parseNetblock(b)
		if err != nil {
			return ind, err
		}
		ind.Type, ind.Addr, ind.Prefix = indicator.TypeCIDR, p.Addr(), p
	} else {
		a, err := addrFromKey(b)
		if err != nil {
			return ind, err
		}
		ind.Type, ind.Addr = indicator.TypeOf(a), a
	}
	ind.Generation = gen
	ind.CreatedAt, ind.UpdatedAt = time.Unix(created, 0).UTC(), time.Unix(at, 0).UTC()
	if renewed.Valid {
		ind.RenewedAt = time.Unix(renewed.Int64, 0).UTC()
	}
	return ind, nil
}
