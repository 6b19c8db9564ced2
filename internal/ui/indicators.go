package ui

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"forewarn/internal/indicator"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

type searchData struct {
	Q, Status, Category, Normalized, MinImportance, Source, Sort string
	// Feed keeps what one feed lists now, MinSources what at least that
	// many feeds list; Date, From and Until a date range (see
	// service.ParseDateFilter), as typed.
	Feed, MinSources, Date, From, Until string
	Cursor                              string
	// Back are the cursors of the pages before this one, oldest first;
	// firstPage stands for the first page (which has no cursor). At most
	// MaxBackPages are kept: a deeper page drops the oldest, and the
	// oldest page it can go back to offers only the first page.
	Back                       []string
	Page                       store.IndicatorPage
	NextURL, PrevURL, FirstURL string
	// Errs are the refused inputs, all at once, by field.
	Errs  map[string]string
	Sorts []string
	// Scans is set when the search reads the whole store: sorted by
	// importance, only Active indicators have an index.
	Scans bool
	// Chips are the filters in force, each with the search without it.
	Chips []chip
	// Count is how many indicators match, up to CountLimit (Capped).
	Count   int64
	Capped  bool
	Counted bool
	// Answer is the lookup's answer for a search of one address that is
	// not listed: the netblock it lies in, or why it is never blocked.
	Answer *answer
	// Known are the detected categories known so far, offered as the
	// category filter's choices (the filter takes a whole category).
	Known []string
}

// chip is one filter in force, and the search without it.
type chip struct {
	Label, Value, Remove string
	Default              bool
}

// SortURL is the search with another sort, from the first page.
func (d searchData) SortURL(sort string) string {
	v := d.values()
	v.Set("sort", sort)
	return "/indicators?" + v.Encode()
}

func (d searchData) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"q": d.Q, "status": d.Status, "category": d.Category, "normalized": d.Normalized,
		"min_importance": d.MinImportance, "source": d.Source, "sort": d.Sort, "feed": d.Feed, "min_sources": d.MinSources,
		"date": d.Date, "from": d.From, "until": d.Until} {
		// An absent status means Active (the default), so "any" is
		// kept as an empty value.
		if s != "" || k == "status" {
			v.Set(k, s)
		}
	}
	return v
}

// SelfURL is the search's own URL (its page and way back included).
func (d searchData) SelfURL() string {
	v := d.values()
	if d.Cursor != "" {
		v.Set("cursor", d.Cursor)
		if len(d.Back) > 0 {
			v.Set("back", strings.Join(d.Back, ","))
		}
	}
	return "/indicators?" + v.Encode()
}

// MaxBackPages bounds the back stack a search page carries in its URL
// (about 36 bytes a page): Previous works this many pages back.
const MaxBackPages = 100

// firstPage stands for the first page in a back stack; cursors are
// base64url, so it cannot be one, nor contain the separator ",".
const firstPage = "~"

// pageLinks sets the Next and Previous links of a page whose next cursor
// is next. Pages follow the store's keyset cursors both ways: Next pushes
// this page's cursor on the back stack, Previous pops it, so no page is
// ever read by offset.
func (d *searchData) pageLinks(next string) {
	if next != "" {
		back := d.Back
		if d.Cursor != "" {
			back = append(slices.Clip(back), d.Cursor)
		} else {
			back = []string{firstPage}
		}
		if len(back) > MaxBackPages {
			back = back[len(back)-MaxBackPages:]
		}
		v := d.values()
		v.Set("cursor", next)
		v.Set("back", strings.Join(back, ","))
		d.NextURL = "/indicators?" + v.Encode()
	}
	if d.Cursor == "" {
		return
	}
	d.FirstURL = "/indicators?" + d.values().Encode()
	if n := len(d.Back); n > 0 {
		switch prev := d.Back[n-1]; prev {
		case firstPage:
			d.PrevURL = d.FirstURL
		default:
			v := d.values()
			v.Set("cursor", prev)
			if n > 1 {
				v.Set("back", strings.Join(d.Back[:n-1], ","))
			}
			d.PrevURL = "/indicators?" + v.Encode()
		}
	}
}

// without is the search's URL with one filter removed.
func (d searchData) without(key string) string {
	v := d.values()
	switch key {
	case "status":
		v.Set("status", "")
	case "date":
		// The date range is one chip: which date, from and until.
		v.Del("date")
		v.Del("from")
		v.Del("until")
	default:
		v.Del(key)
	}
	return "/indicators?" + v.Encode()
}

func (d *searchData) chips(defaultStatus bool) {
	for _, c := range []struct{ key, label, value string }{{"q", "Text", d.Q}, {"status", "Status", d.Status},
		{"category", "Category", d.Category}, {"normalized", "Normalized importance", d.Normalized},
		{"min_importance", "Importance at least", d.MinImportance}, {"source", "Source", d.Source},
		{"feed", "Listed by", d.Feed}, {"min_sources", "Listed by at least", d.minSourcesText()}, {"date", d.dateLabel(), d.dateText()}} {
		if c.value != "" {
			d.Chips = append(d.Chips, chip{Label: c.label, Value: c.value, Remove: d.without(c.key), Default: c.key == "status" && defaultStatus})
		}
	}
}

func (d searchData) minSourcesText() string {
	switch d.MinSources {
	case "", "0":
		return ""
	case "1":
		return "1 feed"
	}
	return d.MinSources + " feeds"
}

// dateLabel names the date the range keeps, for its chip.
func (d searchData) dateLabel() string {
	if d.Date == "detected" {
		return "Detected"
	}
	return "Predicted"
}

// dateText is the date range as its chip writes it: "2026-03-01 to
// 2026-04-01 (UTC, until excluded)"; "" with no range.
func (d searchData) dateText() string {
	switch {
	case d.From == "" && d.Until == "":
		return ""
	case d.Until == "":
		return "from " + d.From + " (UTC)"
	case d.From == "":
		return "before " + d.Until + " (UTC)"
	}
	return d.From + " to " + d.Until + " (UTC, until excluded)"
}

// MaxFeedText bounds the feed filter: feed ids are short.
const MaxFeedText = 64

// CountLimit is how far the search page counts its results; beyond, it
// says "more than 10,000".
const CountLimit = 10_000

// CountTimeout bounds the count: a page never waits long for it.
const CountTimeout = 3 * time.Second

// parseSearch reads the search form and returns the store's query, with
// every refused input named at once.
func parseSearch(qv url.Values) (searchData, store.IndicatorQuery, bool) {
	d := searchData{Q: strings.TrimSpace(qv.Get("q")), Status: qv.Get("status"), Category: strings.TrimSpace(qv.Get("category")),
		Normalized: qv.Get("normalized"), MinImportance: strings.TrimSpace(qv.Get("min_importance")), Source: qv.Get("source"),
		Sort: qv.Get("sort"), Cursor: qv.Get("cursor"), Feed: strings.TrimSpace(qv.Get("feed")), MinSources: strings.TrimSpace(qv.Get("min_sources")),
		Date: strings.TrimSpace(qv.Get("date")), From: strings.TrimSpace(qv.Get("from")), Until: strings.TrimSpace(qv.Get("until")), Errs: map[string]string{}}
	if b := qv.Get("back"); b != "" && d.Cursor != "" {
		d.Back = strings.Split(b, ",")
		if len(d.Back) > MaxBackPages {
			d.Back = d.Back[len(d.Back)-MaxBackPages:]
		}
	}
	defaultStatus := !qv.Has("status")
	if defaultStatus {
		// Active indicators are the working set, and the ones the
		// importance sort has an index for. The chip says so.
		d.Status = string(indicator.StatusActive)
	}
	d.Scans = strings.HasSuffix(d.Sort, "importance") && d.Status != string(indicator.StatusActive)
	q := store.IndicatorQuery{Category: d.Category, Normalized: d.Normalized, Status: indicator.Status(d.Status),
		Source: d.Source, Sort: d.Sort, Limit: 50, Cursor: qv.Get("cursor"),
		// A list feed's networks are indicators too, shown as their CIDR.
		Networks: true}
	if d.Status != "" && !q.Status.Valid() {
		d.Errs["status"] = "Status must be Active, Review, Whitelisted or Expired."
	}
	if d.Sort != "" && !slices.Contains(store.IndicatorSorts, d.Sort) {
		d.Errs["sort"] = "Sort by value, importance or updated (a leading - reverses it)."
	}
	if d.Normalized != "" && !slices.Contains([]string{indicator.High, indicator.Medium, indicator.Low}, d.Normalized) {
		d.Errs["normalized"] = "Normalized importance must be High, Medium or Low."
	}
	if d.Source != "" && d.Source != indicator.SourceSeclytics {
		d.Errs["source"] = "The only source is " + indicator.SourceSeclytics + "."
	}
	if strings.Contains(d.Q, "/") {
		p, err := netip.ParsePrefix(d.Q)
		if err != nil {
			d.Errs["q"] = "“" + d.Q + "” is not a CIDR such as 102.140.192.0/24."
		}
		q.CIDR = p.Masked()
	} else if _, err := netip.ParseAddr(d.Q); err != nil {
		// Free text: part of an address, or of a cluster, identifier or
		// category.
		q.Text = d.Q
	}
	if d.MinImportance != "" {
		f, err := strconv.ParseFloat(d.MinImportance, 64)
		if err != nil || f < 0 || f > 100 || math.IsNaN(f) {
			d.Errs["min_importance"] = "Minimum importance must be a number from 0 to 100, not “" + d.MinImportance + "”."
		}
		q.MinImportance = &f
	}
	if d.MinSources != "" {
		n, err := strconv.Atoi(d.MinSources)
		if err != nil || n < 0 || n > 1000 {
			d.Errs["min_sources"] = "Listed by at least must be a whole number of feeds, 0 or more, not “" + clipText(d.MinSources) + "”."
		}
		q.MinSources = n
	}
	if len(d.Feed) > MaxFeedText || strings.ContainsFunc(d.Feed, unicode.IsControl) {
		d.Errs["feed"] = "“" + clipText(d.Feed) + "” is not a feed id: see Integrations for the feeds' ids."
	}
	q.Feed = d.Feed
	df, err := service.ParseDateFilter(d.Date, d.From, d.Until)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			d.Errs[f.Field] = dateFieldLabel[f.Field] + " " + f.Msg + "."
		}
	}
	q.DateField, q.From, q.Until = df.Field, df.From, df.Until
	d.chips(defaultStatus)
	return d, q, len(d.Errs) == 0
}

// dateFieldLabel names the date filter's fields as the form labels them.
var dateFieldLabel = map[string]string{"date": "Date", "from": "From", "until": "Until"}

// clipText shortens a refused input for its message.
func clipText(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// indicators is the search page. Pages follow the store's cursors, so a
// page costs the same wherever it is in the listing.
func (u *UI) indicators(w http.ResponseWriter, r *http.Request, se *session) error {
	qv := r.URL.Query()
	d, q, ok := parseSearch(qv)
	d.Known = u.knownCategories()
	v := view{Title: "Indicators", Nav: "indicators", Session: se}
	if se.signed(qv.Get("sig"), "bulk", qv.Get("changed"), qv.Get("to")) {
		n, _ := strconv.ParseInt(qv.Get("changed"), 10, 64)
		v.Notice = thousands(n) + " " + plural(n, "indicator", "indicators") + " set to " + qv.Get("to") + ". Later runs keep it."
	}
	if !ok {
		v.Data = d
		return u.render(w, http.StatusBadRequest, "indicators", v)
	}
	if a, err := netip.ParseAddr(d.Q); err == nil {
		ans, err := u.resolve(r.Context(), []netip.Addr{a})
		if err != nil {
			return err
		}
		if ans[0].Indicator != nil {
			// One listed address: its page.
			http.Redirect(w, r, "/indicators/"+ans[0].IP.String(), http.StatusSeeOther)
			return nil
		}
		d.Answer = &ans[0]
		v.Data = d
		return u.render(w, http.StatusOK, "indicators", v)
	}
	status, err := u.search(r, &d, q)
	if err != nil {
		return err
	}
	v.Data = d
	return u.render(w, status, "indicators", v)
}

// search fills d with the page q selects and its count.
func (u *UI) search(r *http.Request, d *searchData, q store.IndicatorQuery) (int, error) {
	page, err := u.Store.SearchIndicators(r.Context(), q)
	if errors.Is(err, store.ErrBadCursor) {
		// A forged or stale cursor is the client's error, as in the API
		// and TAXII.
		d.Errs["cursor"] = "This page link is out of date (its cursor is not one this search returned): start again without it, from the first page."
		return http.StatusBadRequest, nil
	}
	if err != nil {
		return 0, err
	}
	d.Page = page
	d.pageLinks(page.Next)
	ctx, cancel := context.WithTimeout(r.Context(), CountTimeout)
	defer cancel()
	if n, capped, err := u.Store.CountIndicators(ctx, q, CountLimit); err == nil {
		d.Count, d.Capped, d.Counted = n, capped, true
	} else if r.Context().Err() != nil {
		return 0, err
	}
	return http.StatusOK, nil
}

type clusterData struct {
	Cluster  string
	Members  []netip.Addr
	TimedOut bool
}

// statuses are the statuses a person may set.
var statuses = service.Statuses

// RelatedLimit bounds the related-address lists of a detail page.
const RelatedLimit = 20

type lookupData struct {
	Input   string
	Answers []answer
	Bad     []string
}

// MaxLookup is how many addresses one lookup answers.
const MaxLookup = 1000

func (u *UI) lookup(w http.ResponseWriter, r *http.Request, se *session) error {
	d := lookupData{Input: r.URL.Query().Get("ips")}
	var addrs []netip.Addr
	for _, f := range strings.FieldsFunc(d.Input, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' }) {
		a, err := netip.ParseAddr(f)
		if err != nil {
			d.Bad = append(d.Bad, f)
			continue
		}
		if len(addrs) < MaxLookup {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) > 0 {
		res, err := u.resolve(r.Context(), addrs)
		if err != nil {
			return err
		}
		d.Answers = res
	}
	return u.render(w, http.StatusOK, "lookup", view{Title: "Lookup", Nav: "lookup", Session: se, Data: d})
}

// ClusterTimeout bounds the search for a cluster's other Active members.
// It reads the partial index indicators_active_cluster (under a
// millisecond at 4.6M indicators); the bound is for a store busy elsewhere.
// The detail page loads this part afterwards (htmx), so the page itself
// never waits for it.
const ClusterTimeout = 5 * time.Second

func (u *UI) clusterFragment(w http.ResponseWriter, r *http.Request, se *session) error {
	a, err := netip.ParseAddr(r.PathValue("ip"))
	if err != nil {
		u.fail(w, r, se, http.StatusBadRequest, "“"+r.PathValue("ip")+"” is not an IP address.")
		return nil
	}
	d := clusterData{Cluster: r.URL.Query().Get("cluster")}
	if d.Cluster != "" {
		ctx, cancel := context.WithTimeout(r.Context(), ClusterTimeout)
		defer cancel()
		members, err := u.Store.ClusterMembers(ctx, d.Cluster, RelatedLimit+1)
		switch {
		case ctx.Err() != nil && r.Context().Err() == nil:
			d.TimedOut = true
		case err != nil:
			return err
		}
		for _, m := range members {
			if m != a.Unmap() && len(d.Members) < RelatedLimit {
				d.Members = append(d.Members, m)
			}
		}
	}
	return u.render(w, http.StatusOK, "cluster", view{Nav: "fragment", Session: se, Data: d})
}
