package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// LeadTimeQuery narrows the independent lead-time report.
type LeadTimeQuery struct {
	// Feed, when set, counts only that list feed's listings as
	// confirmations.
	Feed string
	// Since, when set, counts only predictions made at or after it.
	Since time.Time
}

// LeadTimeFigures are the figures of one set of Seclytics predictions.
// Days are whole days, rounded down: a confirmation one hour before the
// prediction is day -1, one hour after it day 0.
type LeadTimeFigures struct {
	// Predicted is how many predictions the set holds.
	Predicted int64 `json:"predicted"`
	// Confirmed is how many another feed ever listed; Within30, Within90
	// and Within365 those listed 0 to 30, 90 or 365 days after the
	// prediction.
	Confirmed int64 `json:"confirmed"`
	Within30  int64 `json:"confirmed_within_30_days"`
	Within90  int64 `json:"confirmed_within_90_days"`
	Within365 int64 `json:"confirmed_within_365_days"`
	// ConfirmedBefore is how many another feed listed before Seclytics
	// predicted them (negative lead time: not a prediction at all), and
	// BeforeShare their share of Confirmed (0 when none is confirmed).
	ConfirmedBefore int64   `json:"confirmed_before_prediction"`
	BeforeShare     float64 `json:"confirmed_before_prediction_share"`
	// MedianDays and P90Days are the median and 90th percentile of the
	// lead times of every confirmed prediction, negative ones included;
	// nil when none is confirmed.
	MedianDays *int64 `json:"median_days"`
	P90Days    *int64 `json:"p90_days"`
}

// LeadTimeGroup is the figures of one predicted category or one
// confirming feed.
type LeadTimeGroup struct {
	Name string `json:"name"`
	LeadTimeFigures
}

// LeadTimeReport is the independent lead time of Seclytics' predictions:
// overall, per predicted category (confirmed by the earliest listing of any
// feed) and per list feed (confirmed by that feed's own listing, so a feed's
// Predicted is every prediction and its Confirmed those it listed).
type LeadTimeReport struct {
	LeadTimeFigures
	ByCategory []LeadTimeGroup `json:"by_category"`
	ByFeed     []LeadTimeGroup `json:"by_feed"`
}

// leadDaysSQL is the lead time in whole days rounded down (SQL's integer
// division truncates toward zero on both backends) of confirmation expr c
// after prediction p.
func leadDaysSQL(c, p string) string {
	return `CASE WHEN ` + c + ` >= ` + p + ` THEN (` + c + ` - ` + p + `) / 86400
		ELSE -((` + p + ` - ` + c + ` + 86399) / 86400) END`
}

// predictionsSQL counts the predictions matching where per category. It
// groups by the bare column, not COALESCE(...), so that SQLite reads
// indicators_predicted in its order instead of sorting millions of rows.
func predictionsSQL(where string) string {
	return `SELECT i.s_predicted_category, 0, COUNT(*) FROM indicators i WHERE ` + where + ` GROUP BY i.s_predicted_category`
}

// LeadTimes computes the independent lead time of Seclytics' predictions
// (every indicator with a Predicted At): a prediction's confirmation is the
// earliest listing of its address by a list feed (memberships: the feed's
// own First Seen where it gives one, else forewarn's first observation of
// the entry), and its lead time is confirmation − Predicted At.
//
// Only the predicted address's own key confirms it. An address that
// another feed listed inside a predicted netblock, or a listed network that
// holds a predicted address, is not counted as a confirmation of that
// prediction: a netblock is a guess about neighbours, and counting a
// neighbour would credit a prediction for an address it did not name. Such
// listings are left out of these figures, not mixed into them.
//
// Three set-based queries in one read transaction (so they agree): the
// predictions per category (a scan of the indicators), then the confirmed
// ones, driven from the memberships (far fewer rows than the indicators:
// the public lists hold thousands to a few hundred thousand entries) and
// joined to their indicator by its key, grouped by (category, lead days)
// with the earliest listing, then by (feed, lead days) with each feed's own.
// Go holds one row per distinct day of each group, never one per
// prediction: the percentiles are read off those histograms.
func (s *Store) LeadTimes(ctx context.Context, q LeadTimeQuery) (LeadTimeReport, error) {
	var rep LeadTimeReport
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return rep, fmt.Errorf("lead times: %w", err)
	}
	defer tx.Rollback()
	where, args := "i.s_predicted_at IS NOT NULL", []any{}
	if !q.Since.IsZero() {
		where += " AND i.s_predicted_at >= ?"
		args = append(args, q.Since.Unix())
	}
	feedWhere, feedCond, feedArgs := "", "", []any{}
	if q.Feed != "" {
		feedWhere, feedCond, feedArgs = " WHERE m.feed = ?", " AND m.feed = ?", []any{q.Feed}
	}
	totals := map[string]map[int64]int64{}
	if err := groupDays(ctx, tx, predictionsSQL(where), args, totals); err != nil {
		return rep, fmt.Errorf("lead times: count predictions: %w", err)
	}
	// Per category: each prediction's earliest confirmation by any feed
	// (or the one feed asked for).
	byCat := `SELECT COALESCE(i.s_predicted_category, ''), ` + leadDaysSQL("c.at", "i.s_predicted_at") + ` AS days, COUNT(*) FROM (
		SELECT m.ip, MIN(COALESCE(m.first_seen, m.observed_first)) AS at FROM memberships m` + feedWhere + ` GROUP BY m.ip) c
		JOIN indicators i ON i.ip = c.ip WHERE ` + where + ` GROUP BY 1, 2`
	cats := map[string]map[int64]int64{}
	if err := groupDays(ctx, tx, byCat, append(append([]any{}, feedArgs...), args...), cats); err != nil {
		return rep, fmt.Errorf("lead times by category: %w", err)
	}
	// Per feed: each feed's own listing of the predicted address.
	byFeed := `SELECT m.feed, ` + leadDaysSQL("COALESCE(m.first_seen, m.observed_first)", "i.s_predicted_at") + ` AS days, COUNT(*)
		FROM memberships m JOIN indicators i ON i.ip = m.ip WHERE ` + where + feedCond + ` GROUP BY 1, 2`
	feeds := map[string]map[int64]int64{}
	if err := groupDays(ctx, tx, byFeed, append(append([]any{}, args...), feedArgs...), feeds); err != nil {
		return rep, fmt.Errorf("lead times by feed: %w", err)
	}
	if q.Feed != "" && feeds[q.Feed] == nil {
		feeds[q.Feed] = map[int64]int64{}
	}
	unconfirmed := map[string]int64{}
	all := map[int64]int64{}
	var allUnconfirmed int64
	for cat, t := range totals {
		n := t[0]
		if cats[cat] == nil {
			cats[cat] = map[int64]int64{}
		}
		for d, c := range cats[cat] {
			all[d] += c
			n -= c
		}
		unconfirmed[cat] = n
		allUnconfirmed += n
	}
	rep.LeadTimeFigures = leadFigures(all, allUnconfirmed)
	for cat, h := range cats {
		name := cat
		if name == "" {
			name = "(none)"
		}
		rep.ByCategory = append(rep.ByCategory, LeadTimeGroup{Name: name, LeadTimeFigures: leadFigures(h, unconfirmed[cat])})
	}
	for feed, h := range feeds {
		var n int64
		for _, c := range h {
			n += c
		}
		rep.ByFeed = append(rep.ByFeed, LeadTimeGroup{Name: feed, LeadTimeFigures: leadFigures(h, rep.Predicted-n)})
	}
	order := func(g []LeadTimeGroup) {
		sort.Slice(g, func(i, j int) bool {
			if g[i].Predicted != g[j].Predicted {
				return g[i].Predicted > g[j].Predicted
			}
			if g[i].Confirmed != g[j].Confirmed {
				return g[i].Confirmed > g[j].Confirmed
			}
			return g[i].Name < g[j].Name
		})
	}
	order(rep.ByCategory)
	order(rep.ByFeed)
	if rep.ByCategory == nil {
		rep.ByCategory = []LeadTimeGroup{}
	}
	if rep.ByFeed == nil {
		rep.ByFeed = []LeadTimeGroup{}
	}
	return rep, nil
}

// groupDays reads rows of (group, lead days, count) into hist.
func groupDays(ctx context.Context, t *tx, query string, args []any, hist map[string]map[int64]int64) error {
	rows, err := t.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k sql.NullString // NULL: no predicted category
		var days, n int64
		if err := rows.Scan(&k, &days, &n); err != nil {
			return err
		}
		if hist[k.String] == nil {
			hist[k.String] = map[int64]int64{}
		}
		hist[k.String][days] += n
	}
	return rows.Err()
}

// leadFigures turns a histogram of confirmed lead days and the count of
// unconfirmed predictions into figures.
func leadFigures(hist map[int64]int64, unconfirmed int64) LeadTimeFigures {
	f := LeadTimeFigures{Predicted: unconfirmed}
	for d, n := range hist {
		f.Predicted += n
		f.Confirmed += n
		switch {
		case d < 0:
			f.ConfirmedBefore += n
		case d <= 30:
			f.Within30 += n
			fallthrough
		case d <= 90:
			f.Within90 += n
			fallthrough
		case d <= 365:
			f.Within365 += n
		}
	}
	if f.Confirmed > 0 {
		f.BeforeShare = float64(f.ConfirmedBefore) / float64(f.Confirmed)
		m, _ := Quantile(hist, 0.5)
		p, _ := Quantile(hist, 0.9)
		f.MedianDays, f.P90Days = &m, &p
	}
	return f
}

// Confirmations returns, for those of addrs that a list feed ever listed,
// when one first did: the earliest of the feeds' own First Seen where they
// give one, else of forewarn's first observation (the confirmation
// LeadTimes counts). One query per few hundred addresses.
func (s *Store) Confirmations(ctx context.Context, addrs []netip.Addr) (map[netip.Addr]time.Time, error) {
	out := map[netip.Addr]time.Time{}
	args := make([]any, 0, lookupChunk)
	for start := 0; start < len(addrs); start += lookupChunk {
		chunk := addrs[start:min(start+lookupChunk, len(addrs))]
		args = args[:0]
		for _, a := range chunk {
			args = append(args, key(a.Unmap()))
		}
		rows, err := s.r.QueryContext(ctx, `SELECT ip, MIN(COALESCE(first_seen, observed_first)) FROM memberships
			WHERE ip IN (?`+strings.Repeat(", ?", len(chunk)-1)+`) GROUP BY ip`, args...)
		if err != nil {
			return nil, fmt.Errorf("read confirmations: %w", err)
		}
		for rows.Next() {
			var k []byte
			var at int64
			if err := rows.Scan(&k, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read confirmations: %w", err)
			}
			if a, ok := netip.AddrFromSlice(k); ok && len(k) == 16 {
				out[a.Unmap()] = time.Unix(at, 0).UTC()
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read confirmations: %w", err)
		}
	}
	return out, nil
}
