package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// execer is what the lifecycle statements need: a transaction or the
// writer pool.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// expireSQL marks due rows Expired. The statuses are literals, not
// parameters: SQLite uses the partial index only when the statement's WHERE
// implies the index's when it is prepared. Seclytics no longer lists them,
// and no list feed does (listedDueSQL ran first).
//
// A sighting in the owner's logs keeps an indicator Active until its
// sighted_until, past expires_at (the feed's own expiry).
const expireSQL = `UPDATE indicators SET status = 'Expired', updated_at = ?, s_listed = 0, confidence = NULL
	WHERE status = 'Active' AND expires_at <= ? AND (sighted_until IS NULL OR sighted_until <= ?)`

// listedDueSQL handles the due rows a list feed still lists: Seclytics'
// listing ends (its share of the confidence goes) but they stay Active,
// and their expiry is cleared so that the next sweep does not read them
// again. A Seclytics run that sees them computes a new one.
var listedDueSQL = `UPDATE indicators SET updated_at = ?, s_listed = 0, expires_at = NULL,
	confidence = ` + confidenceSQL("l_miss", "0") + `
	WHERE status = 'Active' AND expires_at <= ? AND (sighted_until IS NULL OR sighted_until <= ?) AND listings > 0`

// expireDue is two set-based UPDATEs over the partial index on expires_at
// of Active rows: they read only the rows that are due. It also deletes
// the tombstones older than TombstoneRetention (a range of their index).
func expireDue(ctx context.Context, ex execer, now int64) (int64, error) {
	if err := dropOldTombstones(ctx, ex, now); err != nil {
		return 0, err
	}
	if _, err := ex.ExecContext(ctx, listedDueSQL, now, now, now); err != nil {
		return 0, fmt.Errorf("expire indicators: %w", err)
	}
	res, err := ex.ExecContext(ctx, expireSQL, now, now, now)
	if err != nil {
		return 0, fmt.Errorf("expire indicators: %w", err)
	}
	return res.RowsAffected()
}

// ExpireDue marks every Active indicator whose expiry is at or before now
// as Expired, and returns how many it marked; it deletes the tombstones
// older than TombstoneRetention.
// `forewarn serve` calls it periodically; every feed run does the same in
// its own transaction.
func (s *Store) ExpireDue(ctx context.Context, now time.Time) (int64, error) {
	return expireDue(ctx, s.w, now.Unix())
}

// ExpireDue marks, in the run's transaction, every Active indicator whose
// expiry is at or before now as Expired.
func (in *ingest) ExpireDue(ctx context.Context, now time.Time) (int64, error) {
	if err := in.restoreIndexes(ctx); err != nil {
		return 0, err
	}
	return expireDue(ctx, in.tx, now.Unix())
}

// ApplyAgeOut recomputes every indicator's expires_at, in the run's
// transaction, when feed's age_out (seconds, 0 = never) is not the one the
// stored expiries were computed with (expiry_policy). The first run after
// migration 004 computes them all this way. The base is the indicator's
// Last Seen At, else the last run that wrote it, else (rows stored before
// 004) its updated_at.
func (in *ingest) ApplyAgeOut(ctx context.Context, feed string, ageOut int64) error {
	var (
		stored sql.NullInt64
		known  bool
	)
	err := in.tx.QueryRowContext(ctx, `SELECT age_out FROM expiry_policy WHERE feed = ?`, feed).Scan(&stored)
	switch {
	case err == nil:
		known = true
	case !isNoRows(err):
		return fmt.Errorf("read expiry policy of %s: %w", feed, err)
	}
	if known && stored.Int64 == ageOut && stored.Valid == (ageOut != 0) {
		return nil
	}
	present := feedSources[feed]
	if present == "" {
		present = "1"
	}
	if ageOut == 0 {
		_, err = in.tx.ExecContext(ctx, `UPDATE indicators SET expires_at = NULL WHERE expires_at IS NOT NULL AND `+present)
	} else {
		_, err = in.tx.ExecContext(ctx, `UPDATE indicators
			SET expires_at = COALESCE(s_last_seen_at, s_seen_at, updated_at) + ? WHERE `+present, ageOut)
	}
	if err != nil {
		return fmt.Errorf("recompute expiry of %s indicators: %w", feed, err)
	}
	if _, err := in.tx.ExecContext(ctx, `INSERT INTO expiry_policy (feed, age_out) VALUES (?, ?)
		ON CONFLICT (feed) DO UPDATE SET age_out = excluded.age_out`, feed, zeroNull(ageOut)); err != nil {
		return fmt.Errorf("record expiry policy of %s: %w", feed, err)
	}
	return nil
}

const activeDueSQL = `SELECT COUNT(*), COALESCE(MAX(CASE WHEN COALESCE(sighted_until, 0) > expires_at THEN sighted_until ELSE expires_at END), 0)
	FROM indicators WHERE status = 'Active' AND expires_at <= ? AND COALESCE(sighted_until, 0) <= ?`

// ActiveDue is how many Active indicators' expiry is at or before now,
// and the latest such expiry: those the expiry job has not marked yet,
// which blocklists already leave out. The expiry is the effective one: a
// sighting that keeps an indicator Active past its feed's expiry keeps it
// listed, and out of this count until its sighted_until. It reads the
// partial index on expires_at of Active rows from its start to now, and
// those rows, so it costs about the number it returns (and the sighted
// ones). HTTP validators add it to the DataVersion, so that a
// list changes its ETag and Last-Modified the moment an expiry passes,
// not only when the job runs.
func (s *Store) ActiveDue(ctx context.Context, now time.Time) (int64, time.Time, error) {
	var n, latest int64
	if err := s.r.QueryRowContext(ctx, activeDueSQL, now.Unix(), now.Unix()).Scan(&n, &latest); err != nil {
		return 0, time.Time{}, fmt.Errorf("count due indicators: %w", err)
	}
	return n, time.Unix(latest, 0).UTC(), nil
}
