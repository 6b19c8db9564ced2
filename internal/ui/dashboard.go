package ui

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/store"
)

// dashboardData feeds the home page: the charts' series as JSON for
// static/app.js, and the numbers written on the page.
type dashboardData struct {
	Charts  template.JS
	Empty   bool
	Median  int64
	P90     int64
	HasLead bool
	// LeadCount is how many indicators Seclytics' own lead time is
	// measured on (both dates stored); Independent the lead time from
	// list feeds' confirmations, nil until computed.
	LeadCount   int64
	Independent *independentLead
	// IndependentNetblock is the same for predicted netblocks confirmed
	// through another address in them; nil when no prediction names one.
	IndependentNetblock *independentLead
	ByCategory          []categoryLead
	Health              health
	Computed            time.Time
	Took                time.Duration
	Stale               bool
	Indicators          int64
	// Headline numbers.
	Active, New24h, Expiring7d int64
	// Bands and Categories are the bar charts' tables.
	Bands, Categories []labelled
	// Computing is set while the first aggregates are being computed.
	Computing bool
	// Confirmed counts the indicators Seclytics and a list feed both
	// list; shown when ListFeeds > 0.
	Confirmed, ListFeeds int64
	// Range is the time range the time charts show, and Ranges the
	// choices, each with its URL.
	Range  string
	Ranges []timeRange
	// From is the start of the range as a search's from (RFC 3339), ""
	// for all time: the charts' links search the same indicators.
	From string
	// Months are the months chart's table, each month with the next one
	// (its search's until).
	Months []monthRow
}

// monthRow is one month of the months chart.
type monthRow struct {
	// From is the month's start, or the range's if later (the first
	// month of a range counts from it); Next the next month's.
	Month, From, Next   string
	Predicted, Detected int64
}

// timeRange is one choice of the dashboard's time range.
type timeRange struct {
	Value, Label string
	// Days back from now; 0 is all.
	Days    int
	Current bool
}

// timeRanges are the dashboard's time ranges; the last is the default.
var timeRanges = []timeRange{{"30d", "30 days", 30, false}, {"90d", "90 days", 90, false}, {"1y", "1 year", 365, false}, {"all", "all", 0, false}}

// pickRange returns the time ranges with the one v names current (all for
// an unknown or empty v), and the time the charts start at (zero for all).
func pickRange(v string, now time.Time) ([]timeRange, string, time.Time) {
	out := make([]timeRange, len(timeRanges))
	copy(out, timeRanges)
	cur := len(out) - 1
	for i, r := range out {
		if r.Value == v {
			cur = i
		}
	}
	out[cur].Current = true
	var from time.Time
	if d := out[cur].Days; d > 0 {
		from = now.UTC().AddDate(0, 0, -d)
	}
	return out, out[cur].Value, from
}

// independentLead is the lead time from list feeds' confirmations, as the
// lead-time card writes it.
type independentLead struct {
	Predicted, Confirmed, Before int64
	// ConfirmedPct and BeforePct are shares in whole percent: of the
	// predictions, and of the confirmed.
	ConfirmedPct, BeforePct int64
	HasLead                 bool
	Median, P90             int64
}

func independentFrom(f *store.LeadTimeFigures) *independentLead {
	if f == nil {
		return nil
	}
	l := &independentLead{Predicted: f.Predicted, Confirmed: f.Confirmed, Before: f.ConfirmedBefore}
	if f.Predicted > 0 {
		l.ConfirmedPct = (100*f.Confirmed + f.Predicted/2) / f.Predicted
	}
	if f.Confirmed > 0 {
		l.BeforePct = (100*f.ConfirmedBefore + f.Confirmed/2) / f.Confirmed
	}
	if f.MedianDays != nil && f.P90Days != nil {
		l.HasLead, l.Median, l.P90 = true, *f.MedianDays, *f.P90Days
	}
	return l
}

type categoryLead struct {
	Category string
	Median   int64
	Count    int64
	// Others, on the last row only, is how many categories it folds in.
	Others int
}

// TopCategories is how many predicted categories the dashboard lists by
// name; the rest make one "other" row. A dump is free to name any number
// of categories, and 200,000 of them once made a 16 MB page.
const TopCategories = 20

// topCategories returns the n categories with the most indicators (ties by
// name), each with its median lead time, then one row for the rest, if
// any, with their count and the median of their lead times together.
func topCategories(lead map[string]map[int64]int64, n int) []categoryLead {
	rows := make([]categoryLead, 0, len(lead))
	for cat, h := range lead {
		var c int64
		for _, v := range h {
			c += v
		}
		rows = append(rows, categoryLead{Category: cat, Count: c})
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].Count > rows[j].Count || rows[i].Count == rows[j].Count && rows[i].Category < rows[j].Category
	})
	var rest []categoryLead
	if len(rows) > n {
		rows, rest = rows[:n], rows[n:]
	}
	for i := range rows {
		rows[i].Median, _ = store.Quantile(lead[rows[i].Category], 0.5)
	}
	if len(rest) == 0 {
		return rows
	}
	other := categoryLead{Category: "other", Others: len(rest)}
	merged := map[int64]int64{}
	for _, r := range rest {
		other.Count += r.Count
		for d, v := range lead[r.Category] {
			merged[d] += v
		}
	}
	other.Median, _ = store.Quantile(merged, 0.5)
	return append(rows, other)
}

type health struct {
	LastSuccess *activity.Run
	// LastRun is the last real run that ended; Failing is set when it
	// failed, LastMsg is its error in words.
	LastRun *activity.Run
	LastMsg string
	Failing bool
	Age     string
	Runs    []activity.Run
	Created int64
	Updated int64
}

// dashCache is the dashboard's aggregates over one time range, and the
// store's DataVersion they were computed at.
type dashCache struct {
	d   *store.Dashboard
	ver store.DataVersion
}

// RangeMaxAge is how long the aggregates of a range other than "all" stay
// fresh while the store does not change: the range's start moves with the
// clock.
const RangeMaxAge = time.Hour

// aggregates returns the dashboard's aggregates over the time range rng
// (one of timeRanges' values), and whether the indicators changed since
// they were computed. They are computed by the store in SQL, kept in
// memory per range (a few, fixed: memory is bounded) and, for all time,
// saved in the store, and recomputed in the background when the store's
// DataVersion (one counter and one index entry) moved: a page view never
// waits for a scan. Only a range never computed shows none, for as long as
// its first computation takes (seconds at millions of indicators; the page
// says so).
func (u *UI) aggregates(ctx context.Context, rng string) (*store.Dashboard, bool, error) {
	d, stale, err := u.kick(ctx, rng)
	if err != nil || d != nil {
		return d, stale, err
	}
	// Never computed: wait a little for the first computation rather than
	// show an empty page (a small store takes milliseconds).
	timeout := time.NewTimer(ColdWait)
	defer timeout.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-timeout.C:
			return nil, true, nil
		case <-tick.C:
		}
		u.dashMu.Lock()
		d = u.dash[rng].d
		u.dashMu.Unlock()
		if d != nil {
			return d, false, nil
		}
	}
}

// kick returns the aggregates of range rng in memory (the saved ones, the
// first time) and whether they are stale, and has them recomputed when
// they are.
func (u *UI) kick(ctx context.Context, rng string) (*store.Dashboard, bool, error) {
	ver, err := u.Store.DataVersion(ctx)
	if err != nil {
		return nil, false, err
	}
	u.dashMu.Lock()
	defer u.dashMu.Unlock()
	if !u.dashLoaded {
		d, v, ok, err := u.Store.SavedDashboard(ctx)
		if err != nil {
			// Not fatal: recomputing replaces it.
			u.Log.Warn("dashboard: read the saved aggregates", "err", err)
		}
		if ok && d.Since.IsZero() {
			u.dash[allRange] = dashCache{&d, v}
		}
		u.dashLoaded = true
	}
	c := u.dash[rng]
	stale := c.d == nil || c.ver != ver || rng != allRange && time.Since(c.d.ComputedAt) > RangeMaxAge
	// A range being computed is not asked for again: its computation
	// may have started before the data moved, and the next view asks.
	if stale && !u.dashWant[rng] && !u.dashBusy[rng] {
		u.dashWant[rng] = true
		// The channel holds one token; a token already there will
		// recompute this range too.
		select {
		case u.dashWake <- struct{}{}:
		default:
		}
	}
	return c.d, stale, nil
}

// allRange is the time range of every indicator, the one saved in the
// store.
const allRange = "all"

// DataChanged has the dashboard's aggregates recomputed in the background
// if the indicators changed: serve calls it after each run, so that the
// next view finds them fresh. Every range computed so far is refreshed.
func (u *UI) DataChanged(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	u.dashMu.Lock()
	ranges := []string{allRange}
	for r := range u.dash {
		if r != allRange {
			ranges = append(ranges, r)
		}
	}
	u.dashMu.Unlock()
	for _, r := range ranges {
		if _, _, err := u.kick(ctx, r); err != nil {
			u.Log.Error("dashboard: read the data version", "err", err)
			return
		}
	}
}

// ColdWait is how long a dashboard view waits for the aggregates when none
// were ever computed, before it renders without them.
const ColdWait = 700 * time.Millisecond

// RefreshDashboard recomputes the dashboard's aggregates whenever a view
// or DataChanged found them stale, until ctx ends. serve runs it as one of
// its actors: without it, the aggregates are never computed.
func (u *UI) RefreshDashboard(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-u.dashWake:
		}
		u.recompute(ctx)
	}
}

// recompute computes the aggregates of every range a view or DataChanged
// asked for, and of all time when none did.
func (u *UI) recompute(ctx context.Context) {
	u.dashMu.Lock()
	var ranges []string
	for _, r := range timeRanges {
		if u.dashWant[r.Value] {
			ranges = append(ranges, r.Value)
		}
	}
	u.dashMu.Unlock()
	if len(ranges) == 0 {
		ranges = []string{allRange}
	}
	u.recomputeRanges(ctx, ranges...)
}

// recomputeRanges computes the aggregates of each range (timeRanges'
// values) now.
func (u *UI) recomputeRanges(ctx context.Context, ranges ...string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for _, rng := range ranges {
		u.dashMu.Lock()
		delete(u.dashWant, rng)
		u.dashBusy[rng] = true
		u.dashMu.Unlock()
		u.recomputeRange(ctx, rng)
		u.dashMu.Lock()
		delete(u.dashBusy, rng)
		u.dashMu.Unlock()
	}
}

// recomputeRange computes and keeps the aggregates of one range.
func (u *UI) recomputeRange(ctx context.Context, rng string) {
	ver, err := u.Store.DataVersion(ctx)
	if err != nil {
		u.logUnlessStopping(ctx, "dashboard: read the data version", err)
		return
	}
	_, _, from := pickRange(rng, time.Now())
	d, err := u.Store.DashboardSince(ctx, from)
	if err != nil {
		u.logUnlessStopping(ctx, "dashboard: recompute the aggregates", err)
		return
	}
	if rng == allRange {
		// A run holding the store's writer must not hold the fresh
		// numbers back: the save gives up after a few seconds (the
		// next one saves).
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		if err := u.Store.SaveDashboard(sctx, ver, d); err != nil {
			u.Log.Warn("dashboard: save the aggregates", "err", err)
		}
		scancel()
	}
	u.dashMu.Lock()
	u.dash[rng] = dashCache{&d, ver}
	u.dashMu.Unlock()
	u.Log.Debug("dashboard aggregates recomputed", "range", rng, "took", d.Took.String())
}

// logUnlessStopping logs err unless ctx ended: serve stopping cuts a
// recomputation short, which is no error.
func (u *UI) logUnlessStopping(ctx context.Context, msg string, err error) {
	if ctx.Err() == nil {
		u.Log.Error(msg, "err", err)
	}
}

type series struct {
	Labels []string `json:"labels"`
	Values []int64  `json:"values"`
}

type chartData struct {
	Bands      series `json:"bands"`
	Categories series `json:"categories"`
	Months     struct {
		Labels    []string `json:"labels"`
		Predicted []int64  `json:"predicted"`
		Detected  []int64  `json:"detected"`
	} `json:"months"`
	Lead struct {
		Days   []int64 `json:"days"`
		Counts []int64 `json:"counts"`
		Median int64   `json:"median"`
		P90    int64   `json:"p90"`
	} `json:"lead"`
	Health series  `json:"health_created"`
	HUpd   []int64 `json:"health_updated"`
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request, se *session) error {
	ranges, rng, from := pickRange(r.URL.Query().Get("range"), time.Now())
	aggp, stale, err := u.aggregates(r.Context(), rng)
	if err != nil {
		return err
	}
	computing := aggp == nil
	if computing {
		aggp = &store.Dashboard{}
	}
	agg := *aggp
	if !agg.Since.IsZero() {
		// The charts start where the aggregates do.
		from = agg.Since
	}
	c := chartsFrom(agg, from)
	dd := dashboardData{Computed: agg.ComputedAt, Took: agg.Took.Round(time.Millisecond), Stale: stale, Indicators: agg.Indicators,
		Active: agg.Statuses["Active"], New24h: agg.New24h, Expiring7d: agg.Expiring7d, Computing: computing,
		Empty: agg.Indicators == 0 && !computing, Confirmed: agg.Confirmed, ListFeeds: agg.ListFeeds, Range: rng, Ranges: ranges}
	dd.Median, dd.HasLead = store.Quantile(agg.LeadDays, 0.5)
	dd.P90, _ = store.Quantile(agg.LeadDays, 0.9)
	for _, n := range agg.LeadDays {
		dd.LeadCount += n
	}
	dd.Independent = independentFrom(agg.Independent)
	if nb := agg.IndependentNetblock; nb != nil && nb.Predicted > 0 {
		dd.IndependentNetblock = independentFrom(nb)
	}
	c.Lead.Median, c.Lead.P90 = dd.Median, dd.P90
	dd.ByCategory = topCategories(agg.LeadByCategory, TopCategories)
	dd.Bands, dd.Categories = c.Bands.rows(), c.Categories.rows()
	if !agg.Since.IsZero() {
		dd.From = agg.Since.UTC().Format(time.RFC3339)
	}
	for i, m := range c.Months.Labels {
		row := monthRow{Month: m, From: m, Predicted: c.Months.Predicted[i], Detected: c.Months.Detected[i]}
		if t, err := time.Parse("2006-01", m); err == nil {
			row.Next = t.AddDate(0, 1, 0).Format("2006-01")
			if agg.Since.After(t) {
				row.From = dd.From
			}
		}
		dd.Months = append(dd.Months, row)
	}
	page, err := u.Store.ListRuns(r.Context(), store.RunQuery{Feed: u.Feed, Limit: 30})
	if err != nil {
		return err
	}
	dd.Health = healthOf(page.Runs, &c, from)
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	dd.Charts = template.JS(b) // json.Marshal escapes <, > and &
	return u.render(w, http.StatusOK, "dashboard", view{Title: "Dashboard", Nav: "dashboard", Session: se, Data: dd})
}

// chartsFrom shapes the aggregates into the charts' series; the months
// chart starts at the month of from (zero: every month).
func chartsFrom(agg store.Dashboard, from time.Time) chartData {
	var c chartData
	for _, b := range []string{"High", "Medium", "Low", "None"} {
		c.Bands.Labels = append(c.Bands.Labels, b)
		c.Bands.Values = append(c.Bands.Values, agg.Bands[b])
	}
	type kv struct {
		k string
		n int64
	}
	var cats []kv
	for k, n := range agg.Categories {
		cats = append(cats, kv{k, n})
	}
	sort.Slice(cats, func(i, j int) bool { return cats[i].n > cats[j].n || cats[i].n == cats[j].n && cats[i].k < cats[j].k })
	if len(cats) > 12 {
		cats = cats[:12]
	}
	for _, c2 := range cats {
		c.Categories.Labels = append(c.Categories.Labels, c2.k)
		c.Categories.Values = append(c.Categories.Values, c2.n)
	}
	months := map[string]bool{}
	for m := range agg.PredictedByMonth {
		months[m] = true
	}
	for m := range agg.DetectedByMonth {
		months[m] = true
	}
	first := ""
	if !from.IsZero() {
		first = from.Format("2006-01")
	}
	for m := range months {
		if m >= first {
			c.Months.Labels = append(c.Months.Labels, m)
		}
	}
	sort.Strings(c.Months.Labels)
	for _, m := range c.Months.Labels {
		c.Months.Predicted = append(c.Months.Predicted, agg.PredictedByMonth[m])
		c.Months.Detected = append(c.Months.Detected, agg.DetectedByMonth[m])
	}
	for d := range agg.LeadDays {
		c.Lead.Days = append(c.Lead.Days, d)
	}
	sort.Slice(c.Lead.Days, func(i, j int) bool { return c.Lead.Days[i] < c.Lead.Days[j] })
	for _, d := range c.Lead.Days {
		c.Lead.Counts = append(c.Lead.Counts, agg.LeadDays[d])
	}
	return c
}

// healthOf is the feed's health from its recent runs, newest first; it
// adds the series of the runs started from from on to c.
func healthOf(runs []activity.Run, c *chartData, from time.Time) health {
	var h health
	h.Runs = runs
	for i := len(runs) - 1; i >= 0; i-- {
		run := runs[i]
		if run.DryRun {
			continue
		}
		if !run.StartedAt.Before(from) {
			c.Health.Labels = append(c.Health.Labels, "#"+itoa(run.ID))
			c.Health.Values = append(c.Health.Values, run.IndicatorsCreated)
			c.HUpd = append(c.HUpd, run.IndicatorsUpdated)
		}
		h.Created += run.IndicatorsCreated
		h.Updated += run.IndicatorsUpdated
	}
	for i := range runs {
		if runs[i].DryRun || runs[i].Status == activity.StatusRunning {
			continue
		}
		if h.LastRun == nil {
			h.LastRun = &runs[i]
			h.LastMsg = plainError(runs[i].Error)
		}
		if runs[i].Status == activity.StatusSucceeded || runs[i].Status == activity.StatusUnchanged {
			h.LastSuccess = &runs[i]
			if f := runs[i].FinishedAt; f != nil {
				h.Age = humanDuration(time.Since(*f))
			}
			break
		}
	}
	h.Failing = h.LastRun != nil && (h.LastRun.Status == activity.StatusFailed || h.LastRun.Status == activity.StatusAbandoned)
	return h
}

// rows are a series as table rows: the chart's text alternative.
func (s series) rows() []labelled {
	out := make([]labelled, len(s.Labels))
	for i := range s.Labels {
		out[i] = labelled{s.Labels[i], s.Values[i]}
	}
	return out
}

// labelled is one bar of a chart.
type labelled struct {
	Label string
	N     int64
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
