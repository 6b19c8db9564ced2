package ui

import (
	"context"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/merge"
	"forewarn/internal/pivot"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/testutil"
)

// uiServer serves the UI over st on loopback and returns a request
// (GET when form is nil, else a POST of form with the session's CSRF
// token) signed in with an admin key, which fails the test on anything but
// 200.
func uiServer(t *testing.T, st *store.Store, d Deps) func(path string, form url.Values) string {
	_, req := uiServerUI(t, st, d)
	return req
}

// uiServerUI is uiServer, with the UI it serves.
func uiServerUI(t *testing.T, st *store.Store, d Deps) (*UI, func(path string, form url.Values) string) {
	t.Helper()
	ctx := context.Background()
	_, k := testutil.AdminKey(t, st)
	const cookie = "session-cookie-pages"
	if err := st.CreateUISession(ctx, cookie, store.UISession{KeyID: k.ID, CSRF: "c", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d.Store, d.Lookup, d.Service = st, lookup.NewService(st), service.New(service.Deps{Store: st})
	u, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return u, func(path string, form url.Values) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if form != nil {
			form.Set("csrf", "c")
			req, _ = http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, b)
		}
		return string(b)
	}
}

// writeActive stores n Active indicators 198.18.0.1, 198.18.0.2, ...
func writeActive(t *testing.T, st *store.Store, n int) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.BeginIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	a := netip.MustParseAddr("198.18.0.0")
	batch := make([]*merge.Stored, 0, n)
	for range n {
		a = a.Next()
		r := &merge.Stored{Status: indicator.StatusActive, CreatedAt: now, UpdatedAt: now}
		r.Addr = a
		batch = append(batch, r)
	}
	if err := tx.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

var (
	firstRow = regexp.MustCompile(`<a href="/indicators/([0-9.]+)">`)
	pageLink = func(id string) *regexp.Regexp { return regexp.MustCompile(`<a href="([^"]+)" id="` + id + `"`) }
)

// A search pages forward and back along the store's cursors: Previous
// returns to exactly the page before, down to the first, which offers
// neither Previous nor First page; every page says how many match.
func TestSearchPreviousPage(t *testing.T) {
	st := testutil.Store(t)
	writeActive(t, st, 1130) // 23 pages of 50
	req := uiServer(t, st, Deps{})
	get := func(path string) string { t.Helper(); return req(path, nil) }
	link := func(body, id string) string {
		t.Helper()
		m := pageLink(id).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return html.UnescapeString(m[1])
	}
	first := func(body string) string { return firstRow.FindStringSubmatch(body)[1] }

	p1 := get("/indicators?sort=value")
	p2 := get(link(p1, "next-page"))
	p3 := get(link(p2, "next-page"))
	if got := []string{first(p1), first(p2), first(p3)}; got[0] != "198.18.0.1" || got[1] != "198.18.0.51" || got[2] != "198.18.0.101" {
		t.Fatalf("pages start at %v, want 198.18.0.1, .51, .101", got)
	}
	back2 := get(link(p3, "prev-page"))
	if got := first(back2); got != "198.18.0.51" {
		t.Errorf("Previous from page 3 starts at %s, want 198.18.0.51 (page 2)", got)
	}
	back1 := get(link(back2, "prev-page"))
	if got := first(back1); got != "198.18.0.1" {
		t.Errorf("Previous from page 2 starts at %s, want 198.18.0.1 (page 1)", got)
	}
	if link(back1, "prev-page") != "" || link(back1, "first-page") != "" {
		t.Error("the first page, reached by Previous, offers Previous or First page")
	}
	if got := first(get(link(back2, "next-page"))); got != "198.18.0.101" {
		t.Errorf("Next after going back starts at %s, want 198.18.0.101", got)
	}
	if !strings.Contains(p3, "1,130 indicators match") {
		t.Error("page 3 does not say how many indicators match, with a thousands separator")
	}
}

// The back stack a page carries is bounded: past MaxBackPages the oldest
// pages are dropped, and the oldest page kept offers only the first page.
func TestSearchBackStackBounded(t *testing.T) {
	d := searchData{Cursor: "c" + strconv.Itoa(MaxBackPages)}
	for i := range MaxBackPages {
		d.Back = append(d.Back, "c"+strconv.Itoa(i))
	}
	d.pageLinks("next")
	u, err := url.Parse(d.NextURL)
	if err != nil {
		t.Fatal(err)
	}
	back := strings.Split(u.Query().Get("back"), ",")
	if len(back) != MaxBackPages || back[0] != "c1" || back[len(back)-1] != "c"+strconv.Itoa(MaxBackPages) {
		t.Errorf("next page's back stack has %d entries from %s to %s, want the newest %d", len(back), back[0], back[len(back)-1], MaxBackPages)
	}
	oldest := searchData{Cursor: "c1"}
	oldest.pageLinks("")
	if oldest.PrevURL != "" || oldest.FirstURL == "" {
		t.Errorf("a page without a back stack: previous %q, first %q; want only the first page", oldest.PrevURL, oldest.FirstURL)
	}
}

// A key made on the API keys page keeps its note, shown in the list.
func TestKeyNoteShown(t *testing.T) {
	st := testutil.Store(t)
	req := uiServer(t, st, Deps{})
	const note = "Palo Alto EDL, rack 4 <ask Ana>"
	created := req("/keys", url.Values{"name": {"paloalto-edl"}, "role": {"read"}, "note": {note}})
	if !strings.Contains(created, `id="new-key"`) {
		t.Fatalf("no key created: %.500s", created)
	}
	list := req("/keys", nil)
	if !strings.Contains(list, `<td class="note">`+html.EscapeString(note)+`</td>`) {
		t.Errorf("the key list does not show the note: %s", list)
	}
}

// The detail page links to third-party pages only when the administrator
// configured them, with rel="noreferrer"; by default the address appears in
// no link off the site. It shows the listing feeds and the confidence.
func TestDetailPivotsFeedsAndConfidence(t *testing.T) {
	st := testutil.Store(t)
	writeActive(t, st, 1)
	off := uiServer(t, st, Deps{})("/indicators/198.18.0.1", nil)
	if strings.Contains(off, `id="pivots"`) || strings.Contains(off, "https://") {
		t.Errorf("with no pivots configured the page links off the site: %s", off)
	}
	if !strings.Contains(off, `<dd id="confidence">80 of 100 `) {
		t.Errorf("an indicator Seclytics lists does not show its confidence 80: %s", off)
	}
	links, err := pivot.ParseAll([]string{"Shodan=https://www.shodan.io/host/{ip}"})
	if err != nil {
		t.Fatal(err)
	}
	st2 := testutil.Store(t)
	writeActive(t, st2, 1)
	on := uiServer(t, st2, Deps{Pivots: links})("/indicators/198.18.0.1", nil)
	if !strings.Contains(on, `<a href="https://www.shodan.io/host/198.18.0.1" rel="noreferrer noopener" target="_blank">Shodan</a>`) {
		t.Errorf("the configured pivot is not linked with rel=noreferrer: %s", on)
	}
}

// oneList is a list feed's entries: the given addresses.
type oneList struct{ addrs []string }

func (l *oneList) Next() (store.ListEntry, error) {
	if len(l.addrs) == 0 {
		return store.ListEntry{}, io.EOF
	}
	a := netip.MustParseAddr(l.addrs[0])
	l.addrs = l.addrs[1:]
	return store.ListEntry{Prefix: netip.PrefixFrom(a, a.BitLen())}, nil
}

// The dashboard's headline counts the indicators other feeds confirm, but
// only once a list feed exists; the time range is in the URL and marked.
func TestDashboardConfirmedAndRange(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	writeActive(t, st, 3)
	u, req := uiServerUI(t, st, Deps{Log: slog.New(slog.DiscardHandler)})
	u.recompute(ctx)
	if body := req("/", nil); strings.Contains(body, "headline-confirmed") {
		t.Error("the dashboard says how many other feeds confirm with no list feed")
	}
	run := store.ListRun{Feed: "blocklist", Source: "Blocklist", Mode: store.ModeSnapshot, Confidence: 50, Now: time.Now()}
	if _, err := st.IngestList(ctx, run, &oneList{[]string{"198.18.0.1", "198.18.0.3", "203.0.113.9"}}); err != nil {
		t.Fatal(err)
	}
	u.recomputeRanges(ctx, "all", "90d")
	body := req("/", nil)
	if !strings.Contains(body, `<a class="value" href="/indicators?status=&amp;feed=seclytics&amp;min_sources=2" id="headline-confirmed">2</a>`) || !strings.Contains(body, "at least one of 1 list feed") {
		t.Errorf("the dashboard does not say 2 indicators are confirmed by the one list feed, linked to their search: %s", body)
	}
	// The range keeps what Seclytics predicted in it: these indicators
	// carry no prediction, so the last 90 days holds none of them.
	body = req("/?range=90d", nil)
	if !strings.Contains(body, `id="headline-confirmed">0</a>`) || !strings.Contains(body, `id="headline-active">0</a>`) {
		t.Errorf("the 90-day range still counts indicators predicted outside it: %s", body)
	}
	if !strings.Contains(body, `<a href="/?range=90d" aria-current="true" class="current">90 days</a>`) || !strings.Contains(body, `id="months-range">(last 90 days)`) {
		t.Errorf("the 90-day range is not the one marked: %s", body)
	}
}

// The months chart starts at the range's first month; the feed health
// chart shows the runs started in it, and its totals stay the last 30 runs'.
func TestDashboardRangeTrimsCharts(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	agg := store.Dashboard{PredictedByMonth: map[string]int64{"2024-01": 5, "2026-10": 2}, DetectedByMonth: map[string]int64{"2026-11": 1, "2026-12": 4}}
	for _, tc := range []struct {
		rng  string
		want []string
	}{{"30d", []string{"2026-11", "2026-12"}}, {"1y", []string{"2026-10", "2026-11", "2026-12"}}, {"all", []string{"2024-01", "2026-10", "2026-11", "2026-12"}}, {"bogus", []string{"2024-01", "2026-10", "2026-11", "2026-12"}}} {
		_, _, from := pickRange(tc.rng, now)
		if got := chartsFrom(agg, from).Months.Labels; strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("range %s: months %v, want %v", tc.rng, got, tc.want)
		}
	}
	runs := []activity.Run{{ID: 2, StartedAt: now.Add(-24 * time.Hour)}, {ID: 1, StartedAt: now.AddDate(0, -2, 0)}}
	runs[0].IndicatorsCreated, runs[1].IndicatorsCreated = 1, 10
	_, _, from := pickRange("30d", now)
	var c chartData
	h := healthOf(runs, &c, from)
	if strings.Join(c.Health.Labels, " ") != "#2" || h.Created != 11 {
		t.Errorf("30 days: runs %v, created %d; want #2 charted and 11 created in the last 30 runs", c.Health.Labels, h.Created)
	}
}

// netList is a list feed's entries, hosts and networks.
type netList []string

func (l *netList) Next() (store.ListEntry, error) {
	if len(*l) == 0 {
		return store.ListEntry{}, io.EOF
	}
	p := netip.MustParsePrefix((*l)[0])
	*l = (*l)[1:]
	return store.ListEntry{Prefix: p}, nil
}

// The search lists a list feed's networks as their CIDR, linked to a
// lookup of their addresses, beside the addresses; a CIDR search finds
// the networks inside it.
func TestSearchListsNetworks(t *testing.T) {
	ctx := context.Background()
	st := testutil.Store(t)
	run := store.ListRun{Feed: "drop", Source: "Spamhaus DROP", Mode: store.ModeSnapshot, Confidence: 90, Now: time.Now()}
	if _, err := st.IngestList(ctx, run, &netList{"45.1.2.0/24", "45.1.2.7/32", "46.0.0.0/16"}); err != nil {
		t.Fatal(err)
	}
	req := uiServer(t, st, Deps{Log: slog.New(slog.DiscardHandler)})
	body := req("/indicators", nil)
	for _, want := range []string{`<a href="/lookup?ips=45.1.2.0" title="a network a list feed lists: look up its addresses">45.1.2.0/24</a>`,
		`>46.0.0.0/16</a>`, `<a href="/indicators/45.1.2.7">45.1.2.7</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("search: missing %s\n%s", want, body)
		}
	}
	if body := req("/indicators?q=46.0.0.0/8", nil); !strings.Contains(body, ">46.0.0.0/16</a>") || strings.Contains(body, "45.1.2.0/24") {
		t.Errorf("a CIDR search does not find just the network inside it:\n%s", body)
	}
}
