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

// seclyticsCleared is the SET list that removes Seclytics from an
// indicator a list feed keeps: its columns, its share of the confidence,
// and its say in the status.
var seclyticsCleared = `s_predicted_at = NULL, s_predicted_netblock = NULL, s_predicted_category = NULL,
	s_cluster_id = NULL, s_detected_by = NULL, s_detected_identifiers = NULL, s_detected_categories = NULL,
	s_detected_at = NULL, s_last_seen_at = NULL, s_importance = NULL, s_normalized_importance = NULL,
	s_attr_runs = NULL, s_hash = NULL, s_lookup_netblock = NULL, s_seen_at = NULL, expires_at = NULL, s_listed = 0,
	confidence = ` + confidenceSQL("l_miss", "0") + `,
	status = CASE WHEN status IN ('Whitelisted', 'Review') THEN status WHEN listings > 0 THEN 'Active' ELSE 'Expired' END`

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
		// An indicator a list feed lists, or did, keeps its row (its
		// memberships name it) without the feed's columns, updated now:
		// it changed, perhaps to Expired, and a TAXII consumer polling
		// with added_after must get it again (revoked, if Expired). The
		// others are deleted, each leaving a tombstone that TAXII and the
		// stix bundle publish revoked (README: "Purge and TAXII
		// consumers").
		kept := `EXISTS (SELECT 1 FROM memberships m WHERE m.ip = indicators.ip)`
		now := time.Now().Unix()
		if _, err := tx.ExecContext(ctx, `UPDATE indicators SET updated_at = ?, `+seclyticsCleared+` WHERE `+present+` AND `+kept,
			now); err != nil {
			return 0, fmt.Errorf("purge indicators of feed %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, writeTombstonesSQL+present+` AND NOT `+kept+writeTombstonesEnd, now); err != nil {
			return 0, fmt.Errorf("purge indicators of feed %s: write their tombstones: %w", name, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM indicators WHERE `+present+` AND NOT `+kept)
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
