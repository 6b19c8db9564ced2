package store

import (
	"bytes"
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
//
// Netblock is kept apart from the rest: its Predicted is the predictions
// that name a netblock, and its Confirmed those whose netblock a list feed
// confirmed through another address in it (see LeadTimes).
type LeadTimeReport struct {
	LeadTimeFigures
	ByCategory []LeadTimeGroup `json:"by_category"`
	ByFeed     []LeadTimeGroup `json:"by_feed"`
	Netblock   LeadTimeFigures `json:"netblock"`
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

// byCategorySQL groups the confirmed predictions by (category, lead
// days), each confirmed by its address's earliest listing; where selects
// the memberships m ("m.p_at IS NOT NULL", and a feed or a date). Each
// membership carries its indicator's prediction (p_at, p_cat: SQLite
// migration 024), so this is one read of the partial covering index
// memberships_predicted in address order, with no join:
// TestLeadTimesReadNarrowIndexes checks the plan.
func byCategorySQL(where string) string {
	return `SELECT COALESCE(c.cat, ''), ` + leadDaysSQL("c.at", "c.p") + ` AS days, COUNT(*) FROM (
		SELECT m.ip, MIN(COALESCE(m.first_seen, m.observed_first)) AS at, MAX(m.p_at) AS p, MAX(m.p_cat) AS cat
		FROM memberships m WHERE ` + where + ` GROUP BY m.ip) c GROUP BY 1, 2`
}

// byFeedSQL groups the predictions that each feed listed by (feed, lead
// days), walking memberships_feed_lead in that order (SQLite migration
// 029 indexes this very lead-days expression: keep the two the same, or
// SQLite sorts every predicted membership again).
func byFeedSQL(where string) string {
	return `SELECT m.feed, ` + leadDaysSQL("COALESCE(m.first_seen, m.observed_first)", "m.p_at") + ` AS days, COUNT(*)
		FROM memberships m WHERE ` + where + ` GROUP BY 1, 2`
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
// neighbour would credit a prediction for an address it did not name.
//
// Those neighbours are counted apart, in Netblock: one unit per prediction
// that names a netblock (Seclytics' lookup netblock), confirmed by the
// earliest listing (by any feed, or the one asked for) of another single
// address inside that netblock; its lead time is that listing − Predicted
// At. The predicted address's own listing does not count there (the
// figures above hold it), nor does a listed network (a CIDR entry): only a
// host the netblock holds. See netblockLeads.
//
// Three set-based queries in one read transaction (so they agree): the
// predictions per category (a scan of the indicators), then the confirmed
// ones, read from the memberships alone (far fewer rows than the
// indicators: the public lists hold thousands to a few hundred thousand
// entries), each of which carries its indicator's prediction, grouped by
// (category, lead days) with the earliest listing, then by (feed, lead
// days) with each feed's own.
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
	mWhere, mArgs := "m.p_at IS NOT NULL", []any{}
	if !q.Since.IsZero() {
		where += " AND i.s_predicted_at >= ?"
		args = append(args, q.Since.Unix())
		mWhere += " AND m.p_at >= ?"
		mArgs = append(mArgs, q.Since.Unix())
	}
	feedCond, feedArgs := "", []any{}
	if q.Feed != "" {
		feedCond, feedArgs = " AND m.feed = ?", []any{q.Feed}
		mWhere += feedCond
		mArgs = append(mArgs, q.Feed)
	}
	totals := map[string]map[int64]int64{}
	if err := groupDays(ctx, tx, predictionsSQL(where), args, totals); err != nil {
		return rep, fmt.Errorf("lead times: count predictions: %w", err)
	}
	// Per category: each prediction's earliest confirmation by any feed
	// (or the one feed asked for).
	cats := map[string]map[int64]int64{}
	if err := groupDays(ctx, tx, byCategorySQL(mWhere), mArgs, cats); err != nil {
		return rep, fmt.Errorf("lead times by category: %w", err)
	}
	// Per feed: each feed's own listing of the predicted address.
	feeds := map[string]map[int64]int64{}
	if err := groupDays(ctx, tx, byFeedSQL(mWhere), mArgs, feeds); err != nil {
		return rep, fmt.Errorf("lead times by feed: %w", err)
	}
	nbHist, nbUnconfirmed, err := netblockLeads(ctx, tx, where, args, feedCond, feedArgs)
	if err != nil {
		return rep, fmt.Errorf("lead times of netblocks: %w", err)
	}
	rep.Netblock = leadFigures(nbHist, nbUnconfirmed)
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

// nbBlock is a distinct predicted netblock, the range of 16-byte keys it
// holds, and the two earliest listings of hosts in it (two, so that a
// prediction whose own address is the earliest gets the next).
type nbBlock struct {
	lo, hi [16]byte
	first  [2]nbListing
}

// nbListing is a listed host and when it was first listed; ok false: none.
type nbListing struct {
	ip [16]byte
	at int64
	ok bool
}

// offer records a listing of a host in the block if it is one of the two
// earliest. Each host is offered once.
func (b *nbBlock) offer(l nbListing) {
	switch {
	case !b.first[0].ok || l.at < b.first[0].at:
		b.first[1], b.first[0] = b.first[0], l
	case !b.first[1].ok || l.at < b.first[1].at:
		b.first[1] = l
	}
}

// confirmation is the earliest listing in the block of a host other than
// own (a key); ok false when none.
func (b *nbBlock) confirmation(own []byte) (int64, bool) {
	for _, l := range b.first {
		if l.ok && !bytes.Equal(l.ip[:], own) {
			return l.at, true
		}
	}
	return 0, false
}

// netblockLeads computes LeadTimeReport.Netblock: the histogram of lead
// days of the predictions (matching where) whose netblock another listed
// host confirms, and how many predictions naming a netblock are not
// confirmed so. Three reads, each in key order from a narrow index: the
// distinct predicted netblocks (held in memory: as many as the lookup
// index already holds), the listed hosts between the first and the last
// of them with each one's earliest listing, swept past the netblocks
// (CIDR blocks nest or are apart, so the open ones form a stack), then
// the predictions naming a netblock. A store without predicted netblocks
// costs one empty index read.
func netblockLeads(ctx context.Context, t *tx, where string, args []any, feedCond string, feedArgs []any) (map[int64]int64, int64, error) {
	hist := map[int64]int64{}
	var blocks []nbBlock
	index := map[[netblockLen]byte]int{}
	rows, err := t.QueryContext(ctx, `SELECT DISTINCT i.s_lookup_netblock FROM indicators i
		WHERE `+where+` AND i.s_lookup_netblock IS NOT NULL ORDER BY 1`, args...)
	if err != nil {
		return nil, 0, err
	}
	var hi [16]byte
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if len(k) != netblockLen || k[16] > 128 {
			continue // malformed: parseNetblock's readers skip it too
		}
		b := nbBlock{lo: [16]byte(k[:16])}
		b.hi = b.lo
		for bit := int(k[16]); bit < 128; bit++ {
			b.hi[bit/8] |= 0x80 >> (bit % 8)
		}
		index[[netblockLen]byte(k)] = len(blocks)
		blocks = append(blocks, b)
		if bytesCompare(b.hi, hi) > 0 {
			hi = b.hi
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil || len(blocks) == 0 {
		return hist, 0, err
	}
	rows, err = t.QueryContext(ctx, `SELECT m.ip, MIN(COALESCE(m.first_seen, m.observed_first)) FROM memberships m
		WHERE m.ip BETWEEN ? AND ? AND length(m.ip) = 16`+feedCond+` GROUP BY m.ip ORDER BY m.ip`,
		append([]any{blocks[0].lo[:], hi[:]}, feedArgs...)...)
	if err != nil {
		return nil, 0, err
	}
	var open []int // indexes of the blocks holding the last host, outermost first
	next := 0
	for rows.Next() {
		var k []byte
		var l nbListing
		if err := rows.Scan(&k, &l.at); err != nil {
			rows.Close()
			return nil, 0, err
		}
		if len(k) != 16 {
			continue
		}
		l.ip, l.ok = [16]byte(k), true
		for next < len(blocks) && bytesCompare(blocks[next].lo, l.ip) <= 0 {
			for len(open) > 0 && bytesCompare(blocks[open[len(open)-1]].hi, blocks[next].lo) < 0 {
				open = open[:len(open)-1]
			}
			open = append(open, next)
			next++
		}
		for len(open) > 0 && bytesCompare(blocks[open[len(open)-1]].hi, l.ip) < 0 {
			open = open[:len(open)-1]
		}
		for _, b := range open {
			blocks[b].offer(l)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, 0, err
	}
	rows, err = t.QueryContext(ctx, `SELECT i.s_lookup_netblock, i.ip, i.s_predicted_at FROM indicators i
		WHERE `+where+` AND i.s_lookup_netblock IS NOT NULL`, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var unconfirmed int64
	for rows.Next() {
		var k, ip []byte
		var p int64
		if err := rows.Scan(&k, &ip, &p); err != nil {
			return nil, 0, err
		}
		if len(k) != netblockLen {
			continue
		}
		b, ok := index[[netblockLen]byte(k)]
		if !ok {
			continue
		}
		c, ok := blocks[b].confirmation(ip)
		if !ok {
			unconfirmed++
			continue
		}
		hist[floorDiv(c-p, 86400)]++
	}
	return hist, unconfirmed, rows.Err()
}

// floorDiv divides rounding down, as leadDaysSQL does.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func bytesCompare(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }

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
