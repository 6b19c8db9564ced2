package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dashboard holds the aggregates the web UI's home page charts. Each is one
// GROUP BY over the indicators table, so computing it reads the table a few
// times: callers cache it and recompute after runs (see ui), never per page
// view.
type Dashboard struct {
	// Bands counts indicators by importance band (High ≥ 70, Medium ≥ 40,
	// Low, None when Importance is not stored).
	Bands map[string]int64
	// Categories counts indicators by detected category (an indicator with
	// several counts once in each).
	Categories map[string]int64
	// PredictedByMonth and DetectedByMonth count indicators by the month
	// ("2026-01") of Predicted At and of Detected At.
	PredictedByMonth map[string]int64
	DetectedByMonth  map[string]int64
	// LeadDays counts indicators by Detected At − Predicted At in whole
	// days; LeadByCategory is the same per predicted category.
	LeadDays       map[int64]int64
	LeadByCategory map[string]map[int64]int64
	// Independent is the lead time from list feeds' confirmations (see
	// LeadTimes), beside Seclytics' own above; nil in dashboards saved
	// before it was computed.
	Independent *LeadTimeFigures `json:",omitempty"`
	// IndependentNetblock is the same for predicted netblocks confirmed
	// through another address in them, kept apart (LeadTimeReport.Netblock).
	IndependentNetblock *LeadTimeFigures `json:",omitempty"`
	// Indicators is how many indicators the aggregates cover.
	Indicators int64
	// Statuses counts indicators by status; New24h counts those created
	// in the 24 hours before ComputedAt, Expiring7d the Active ones that
	// expire in the 7 days after it.
	Statuses   map[string]int64
	New24h     int64
	Expiring7d int64
	// Confirmed counts the indicators Seclytics lists that at least one
	// list feed lists too; ListFeeds is how many list feeds exist (the
	// number means nothing without one).
	Confirmed int64
	ListFeeds int64
	// ComputedAt is when the aggregates were read, and Took how long.
	ComputedAt time.Time
	Took       time.Duration
	// Since is the start of the time range the aggregates cover (zero:
	// all time); see DashboardSince.
	Since time.Time `json:",omitzero"`
}

// DashboardAggregates computes the Dashboard over every indicator.
func (s *Store) DashboardAggregates(ctx context.Context) (Dashboard, error) {
	return s.DashboardSince(ctx, time.Time{})
}

// DashboardSince computes the Dashboard in SQL over the indicators
// Seclytics predicted at or after since (every indicator when since is
// zero): the store groups and counts, Go only reshapes the few hundred
// groups. The months chart's series are the exception: each keeps the
// months of its own date from since on (a detection in range of an older
// prediction counts), as its axis shows.
func (s *Store) DashboardSince(ctx context.Context, since time.Time) (Dashboard, error) {
	t0 := time.Now()
	// The range's terms: integers computed here, written into the SQL
	// (the loop below passes no arguments).
	inRange := func(col, prefix string) string {
		if since.IsZero() {
			return ""
		}
		return " " + prefix + " " + col + " >= " + strconv.FormatInt(since.Unix(), 10)
	}
	d := Dashboard{
		Bands: map[string]int64{}, Categories: map[string]int64{},
		PredictedByMonth: map[string]int64{}, DetectedByMonth: map[string]int64{},
		LeadDays: map[int64]int64{}, LeadByCategory: map[string]map[int64]int64{}, Statuses: map[string]int64{},
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	defer tx.Rollback()
	type q struct {
		sql  string
		scan func(k1 string, k2 int64, n int64)
	}
	now := time.Now()
	week := strconv.FormatInt(now.Add(7*24*time.Hour).Unix(), 10)
	queries := []q{
		// Flags: 1 created in the last 24 h, 2 Active and expiring in 7
		// days (its effective expiry: a sighting's sighted_until when
		// later), 4 listed by Seclytics and by a list feed (confirmed).
		// The times are integers this function computes, written into
		// the SQL: the loop below passes no arguments.
		{`SELECT status, CASE WHEN created_at >= ` + strconv.FormatInt(now.Add(-24*time.Hour).Unix(), 10) + ` THEN 1 ELSE 0 END +
				CASE WHEN status = 'Active' AND expires_at IS NOT NULL AND expires_at < ` + week + `
					AND COALESCE(sighted_until, 0) < ` + week + ` THEN 2 ELSE 0 END +
				CASE WHEN s_listed = 1 AND listings > 0 THEN 4 ELSE 0 END AS flags, COUNT(*)
				FROM indicators` + inRange("s_predicted_at", "WHERE") + ` GROUP BY 1, 2`,
			func(k string, flags int64, n int64) {
				d.Statuses[k] += n
				if flags&1 != 0 {
					d.New24h += n
				}
				if flags&2 != 0 {
					d.Expiring7d += n
				}
				if flags&4 != 0 {
					d.Confirmed += n
				}
			}},
		{`SELECT '', 0, COUNT(*) FROM list_feeds`, func(_ string, _ int64, n int64) { d.ListFeeds = n }},
		{`SELECT CASE WHEN s_importance >= 70 THEN 'High' WHEN s_importance >= 40 THEN 'Medium'
				WHEN s_importance IS NOT NULL THEN 'Low' ELSE 'None' END AS b, 0, COUNT(*) FROM indicators` + inRange("s_predicted_at", "WHERE") + ` GROUP BY b`,
			func(k string, _ int64, n int64) { d.Bands[k] += n; d.Indicators += n }},
		// Lists are joined by U+001F: group by the joined value, then split
		// the (few) distinct combinations.
		{`SELECT COALESCE(s_detected_categories, ''), 0, COUNT(*) FROM indicators` + inRange("s_predicted_at", "WHERE") + ` GROUP BY 1`,
			func(k string, _ int64, n int64) {
				if k == "" {
					d.Categories["(none)"] += n
					return
				}
				for _, c := range strings.Split(k, "\x1f") {
					d.Categories[c] += n
				}
			}},
		{`SELECT ` + s.d.month("s_predicted_at") + `, 0, COUNT(*) FROM indicators WHERE s_predicted_at IS NOT NULL` + inRange("s_predicted_at", "AND") + ` GROUP BY 1`,
			func(k string, _ int64, n int64) { d.PredictedByMonth[k] += n }},
		{`SELECT ` + s.d.month("s_detected_at") + `, 0, COUNT(*) FROM indicators WHERE s_detected_at IS NOT NULL` + inRange("s_detected_at", "AND") + ` GROUP BY 1`,
			func(k string, _ int64, n int64) { d.DetectedByMonth[k] += n }},
		{`SELECT COALESCE(s_predicted_category, ''), (s_detected_at - s_predicted_at) / 86400 AS days, COUNT(*) FROM indicators
				WHERE s_detected_at IS NOT NULL AND s_predicted_at IS NOT NULL` + inRange("s_predicted_at", "AND") + ` GROUP BY 1, 2`,
			func(k string, days int64, n int64) {
				d.LeadDays[days] += n
				if k == "" {
					k = "(none)"
				}
				if d.LeadByCategory[k] == nil {
					d.LeadByCategory[k] = map[int64]int64{}
				}
				d.LeadByCategory[k][days] += n
			}},
	}
	for _, qq := range queries {
		rows, err := tx.QueryContext(ctx, qq.sql)
		if err != nil {
			return d, fmt.Errorf("dashboard aggregate: %w", err)
		}
		for rows.Next() {
			var k string
			var k2, n int64
			if err := rows.Scan(&k, &k2, &n); err != nil {
				rows.Close()
				return d, fmt.Errorf("dashboard aggregate: %w", err)
			}
			qq.scan(k, k2, n)
		}
		if err := rows.Close(); err != nil {
			return d, err
		}
		if err := rows.Err(); err != nil {
			return d, fmt.Errorf("dashboard aggregate: %w", err)
		}
	}
	rep, err := s.LeadTimes(ctx, LeadTimeQuery{Since: since})
	if err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	d.Independent = &rep.LeadTimeFigures
	d.IndependentNetblock = &rep.Netblock
	d.ComputedAt = time.Now().UTC()
	if !since.IsZero() {
		d.Since = since.UTC()
	}
	d.Took = time.Since(t0)
	return d, nil
}

// Quantile returns the q-quantile (0 < q ≤ 1) of a histogram of day counts,
// and false when it is empty.
func Quantile(hist map[int64]int64, q float64) (int64, bool) {
	var total int64
	keys := make([]int64, 0, len(hist))
	for k, n := range hist {
		keys = append(keys, k)
		total += n
	}
	if total == 0 {
		return 0, false
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	rank := int64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for _, k := range keys {
		seen += hist[k]
		if seen >= rank {
			return k, true
		}
	}
	return keys[len(keys)-1], true
}

// ClusterMembers returns up to limit addresses of Active indicators in
// cluster, in address order, from the partial index
// indicators_active_cluster.
func (s *Store) ClusterMembers(ctx context.Context, cluster string, limit int) ([]netip.Addr, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT ip FROM indicators WHERE s_cluster_id = (SELECT id FROM s_clusters WHERE name = ?) AND status = 'Active' ORDER BY ip LIMIT ?`, cluster, limit)
	if err != nil {
		return nil, fmt.Errorf("indicators of cluster %s: %w", cluster, err)
	}
	defer rows.Close()
	var out []netip.Addr
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		if a, ok := netip.AddrFromSlice(b); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, rows.Err()
}

// SaveDashboard stores d as the dashboard's snapshot, computed when the
// indicators were at version v, replacing the previous one.
func (s *Store) SaveDashboard(ctx context.Context, v DataVersion, d Dashboard) error {
	body, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("save the dashboard: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO dashboard_snapshot (id, last_update, count, body) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET last_update = excluded.last_update, count = excluded.count, body = excluded.body`,
		v.LastUpdate.Unix(), v.Count, string(body)); err != nil {
		return fmt.Errorf("save the dashboard: %w", err)
	}
	return nil
}

// SavedDashboard returns the dashboard's snapshot and the version it was
// computed at; ok is false when none was saved.
func (s *Store) SavedDashboard(ctx context.Context) (d Dashboard, v DataVersion, ok bool, err error) {
	var last int64
	var body string
	err = s.r.QueryRowContext(ctx, `SELECT last_update, count, body FROM dashboard_snapshot WHERE id = 1`).Scan(&last, &v.Count, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return d, v, false, nil
	}
	if err != nil {
		return d, v, false, fmt.Errorf("read the saved dashboard: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return d, v, false, fmt.Errorf("read the saved dashboard: %w", err)
	}
	v.LastUpdate = time.Unix(last, 0).UTC()
	return d, v, true, nil
}
