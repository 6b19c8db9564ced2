package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/merge"
)

// SourceChanges is what a MISP feed needs to know about its events without
// reading every indicator: the sources indicators can come from, and when
// the store last changed.
type SourceChanges struct {
	// Sources are the sources an indicator can carry: Seclytics when the
	// store holds Seclytics data or has run its feed, and the source of
	// every list feed installed, sorted.
	Sources []string
	// Created is each source's first run (absent when it never ran).
	Created map[string]time.Time
	// Changed is the latest change of any indicator as of at: the latest
	// updated time (expiry sweeps, whitelisting and delisting move it) or
	// the latest expiry that passed before the sweep marked it. It covers
	// every source: a change to one moves them all.
	Changed time.Time
}

// The latest update, through indicators_updated; the latest expiry passed
// of an Active indicator the sweep has not marked yet, through
// indicators_expiry.
const (
	latestUpdateSQL = `SELECT MAX(updated_at) FROM indicators`
	latestExpirySQL = `SELECT MAX(CASE WHEN COALESCE(sighted_until, 0) > expires_at THEN sighted_until ELSE expires_at END)
		FROM indicators WHERE status = 'Active' AND expires_at <= ? AND COALESCE(sighted_until, 0) <= ?`
)

// SourceChanges reads the sources and the latest change through indexes
// (indicators_updated, indicators_expiry) and the small feed and run
// tables; it reads the indicators themselves only for the Active ones past
// their expiry that the sweep has not marked yet.
func (s *Store) SourceChanges(ctx context.Context, at time.Time) (SourceChanges, error) {
	sc := SourceChanges{Created: map[string]time.Time{}}
	now := at.Unix()
	var updated, expired sql.NullInt64
	if err := s.r.QueryRowContext(ctx, latestUpdateSQL).Scan(&updated); err != nil {
		return sc, fmt.Errorf("read the latest change: %w", err)
	}
	// Seen the way the exporters see it: an Active indicator whose expiry
	// (or a sighting's, when later) passed counts at that time.
	if err := s.r.QueryRowContext(ctx, latestExpirySQL, now, now).Scan(&expired); err != nil {
		return sc, fmt.Errorf("read the latest expiry passed: %w", err)
	}
	sc.Changed = indicator.Time(max(updated.Int64, expired.Int64))

	first := func(feeds string, args ...any) (time.Time, bool, error) {
		var ms sql.NullInt64
		if err := s.r.QueryRowContext(ctx, `SELECT MIN(started_at) FROM runs WHERE feed IN (`+feeds+`)`, args...).Scan(&ms); err != nil {
			return time.Time{}, false, fmt.Errorf("read the first run: %w", err)
		}
		return time.UnixMilli(ms.Int64).UTC(), ms.Valid, nil
	}
	t, ran, err := first("?", merge.SeclyticsFeed)
	if err != nil {
		return sc, err
	}
	seclytics := ran
	if !seclytics {
		var one int
		err := s.r.QueryRowContext(ctx, `SELECT 1 FROM indicators WHERE `+seclyticsPresent+` LIMIT 1`).Scan(&one)
		if err != nil && !isNoRows(err) {
			return sc, fmt.Errorf("look for Seclytics data: %w", err)
		}
		seclytics = err == nil
	}
	if seclytics {
		sc.Sources = append(sc.Sources, indicator.SourceSeclytics)
		if ran {
			sc.Created[indicator.SourceSeclytics] = t
		}
	}
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT source FROM list_feeds`)
	if err != nil {
		return sc, fmt.Errorf("read the list feeds' sources: %w", err)
	}
	var list []string
	for rows.Next() {
		var src string
		if err := rows.Scan(&src); err != nil {
			rows.Close()
			return sc, err
		}
		list = append(list, src)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sc, fmt.Errorf("read the list feeds' sources: %w", err)
	}
	for _, src := range list {
		if !slices.Contains(sc.Sources, src) {
			sc.Sources = append(sc.Sources, src)
		}
		t, ran, err := first(`SELECT feed FROM list_feeds WHERE source = ?`, src)
		if err != nil {
			return sc, err
		}
		if ran {
			sc.Created[src] = t
		}
	}
	slices.Sort(sc.Sources)
	return sc, nil
}
