package store

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"forewarn/internal/indicator"
)

// SetIndicatorStatus sets the status of the indicator at addr and returns
// it. A person sets Whitelisted or Review; later feed runs keep them (see
// indicator.Status.AfterSighting). Setting the status it already has
// changes nothing, updated_at included. An unknown status is an error
// wrapping ErrBadQuery; an address the store does not hold, ErrNotFound.
func (s *Store) SetIndicatorStatus(ctx context.Context, addr netip.Addr, st indicator.Status) (indicator.Indicator, error) {
	if !st.Valid() {
		return indicator.Indicator{}, fmt.Errorf("status %q: use Active, Expired, Whitelisted or Review: %w", st, ErrBadQuery)
	}
	addr = addr.Unmap()
	if _, err := s.w.ExecContext(ctx, `UPDATE indicators SET status = ?, updated_at = ? WHERE ip = ? AND status <> ?`,
		string(st), time.Now().Unix(), key(addr), string(st)); err != nil {
		return indicator.Indicator{}, fmt.Errorf("set status of %s: %w", addr, err)
	}
	// Lookup says ErrNotFound if nothing was updated because the store
	// does not hold addr.
	return s.Lookup(ctx, addr)
}

// feedSources maps each feed to the SQL condition true for an indicator that
// carries its attributes.
var feedSources = map[string]string{"seclytics": seclyticsPresent}

// DeleteFeed uninstalls a feed, as the integration guide's "Uninstall"
// does: it deletes the feed's configuration (settings, token, validators,
// watermark, enabled) and, with purge, every indicator that carries the
// feed's attributes, and returns how many it purged. It does both in one
// transaction: all or nothing. The activity log is kept.
//
// It takes the feed's run lock first, so it never deletes under a running
// feed: if a run is in progress it returns the *InProgressError. A feed
// forewarn does not know, or with neither a configuration nor (with purge)
// indicators, is an error wrapping ErrNotFound.
func (s *Store) DeleteFeed(ctx context.Context, name string, purge bool) (purged int64, err error) {
	present, known := feedSources[name]
	if !known {
		return 0, fmt.Errorf("feed %q: forewarn knows no such feed (feeds: %s): %w", name, strings.Join(feedNames(), ", "), ErrNotFound)
	}
	lock, err := s.LockFeed(ctx, name)
	if err != nil {
		return 0, err
	}
	defer lock.Close()

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete feed %s: %w", name, err)
	}
	defer tx.Rollback()
	if purge {
		// Every indicator has one source today, so purging a source
		// deletes the indicator. With a second source this must clear the
		// feed's columns and delete only indicators left without any.
		res, err := tx.ExecContext(ctx, `DELETE FROM indicators WHERE `+present)
		if err != nil {
			return 0, fmt.Errorf("purge indicators of feed %s: %w", name, err)
		}
		if purged, err = res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("purge indicators of feed %s: %w", name, err)
		}
		if err := addCount(ctx, tx, "indicators", -purged); err != nil {
			return 0, fmt.Errorf("purge indicators of feed %s: %w", name, err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM feeds WHERE name = ?`, name)
	if err != nil {
		return 0, fmt.Errorf("delete configuration of feed %s: %w", name, err)
	}
	configured, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete configuration of feed %s: %w", name, err)
	}
	if configured == 0 && purged == 0 {
		return 0, fmt.Errorf("feed %s is not installed and has no indicators: %w", name, ErrNotFound)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete feed %s: %w", name, err)
	}
	return purged, nil
}

func feedNames() []string {
	names := make([]string, 0, len(feedSources))
	for n := range feedSources {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// IndicatorCounts counts indicators by status, for metrics.
//
// It reads the whole indicators table: about 250 ms at 0.9 million
// indicators (measured, BenchmarkSearchIndicators/counts), which is too
// much for every scrape. A metrics endpoint should serve a cached count,
// refreshed after a run or a status change, or at most every minute or so.
func (s *Store) IndicatorCounts(ctx context.Context) (map[indicator.Status]int64, error) {
	st, err := s.Stats(ctx)
	if err != nil {
		return nil, err
	}
	return st.ByStatus, nil
}
