package ui

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/allowlist"
	"forewarn/internal/buildinfo"
	"forewarn/internal/config"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/pivot"
	"forewarn/internal/runner"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP is the Content-Security-Policy of every UI response: nothing inline,
// nothing from elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Scheduler is the serve process's schedule, as the UI shows it.
type Scheduler interface {
	NextRun(feed string) (time.Time, bool)
}

// Store is what the UI reads, and the dashboard cache and sign-in sessions
// it keeps (*store.Store). A person's changes go through Service.
type Store interface {
	FeedConfig(ctx context.Context, name string) (config.Seclytics, store.FeedState, error)
	Runs(ctx context.Context, feed string, limit int) ([]activity.Run, error)
	Run(ctx context.Context, id int64) (activity.Run, error)
	ListRuns(ctx context.Context, q store.RunQuery) (store.RunPage, error)
	Lookup(ctx context.Context, addr netip.Addr) (indicator.Indicator, error)
	SearchIndicators(ctx context.Context, q store.IndicatorQuery) (store.IndicatorPage, error)
	CountIndicators(ctx context.Context, q store.IndicatorQuery, limit int) (int64, bool, error)
	ClusterMembers(ctx context.Context, cluster string, limit int) ([]netip.Addr, error)
	AllowlistEntries(ctx context.Context) ([]allowlist.Entry, error)
	SearchAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error)
	APIKeys(ctx context.Context) ([]store.APIKey, error)
	// EachIndicator streams the store for the Exports page's downloads.
	EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error
	dashboardStore
	sessionStore
}

// dashboardStore keeps the dashboard's aggregates: a cache of reads.
type dashboardStore interface {
	DataVersion(ctx context.Context) (store.DataVersion, error)
	DashboardSince(ctx context.Context, since time.Time) (store.Dashboard, error)
	SavedDashboard(ctx context.Context) (store.Dashboard, store.DataVersion, bool, error)
	SaveDashboard(ctx context.Context, v store.DataVersion, d store.Dashboard) error
}

// sessionStore reads sign-ins; Service starts and ends them.
type sessionStore interface {
	AuthenticateAPIKey(ctx context.Context, key string) (store.APIKey, error)
	UISession(ctx context.Context, id string) (store.UISession, error)
}

// Deps are the parts the UI drives.
type Deps struct {
	// Store is what the pages read.
	Store Store
	// Service performs every change a form asks for; the UI renders
	// its results and refusals.
	Service *service.Service
	// Feed is the feed the integration page manages.
	Feed string
	// Runner shows the live progress of runs in this process.
	Runner *runner.Manager
	// Scheduler shows the feed's next run.
	Scheduler Scheduler
	// Lookup answers the lookup page and finds a detail page's netblock.
	Lookup *lookup.Service
	Log    *slog.Logger
	// Secure marks the session cookie Secure (serve over TLS).
	Secure bool
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// client (for the sign-in limit) and whose X-Forwarded-Proto: https
	// makes the session cookie Secure.
	TrustedProxies []netip.Prefix
	// Pivots are the administrator's links to third-party pages about an
	// address, shown on each detail page; none by default (serve
	// --pivot), so no address leaves without that choice and a click.
	Pivots []pivot.Link
}

// UI serves the web pages.
type UI struct {
	Deps
	// pages write times in UTC; zonePages in the other zones sessions
	// chose, at most MaxZoneSets of them.
	pages     pageSet
	zoneMu    sync.Mutex
	zonePages map[string]pageSet
	throttle  throttle

	dashMu sync.Mutex
	// dash holds the aggregates per time range (timeRanges' values).
	dash map[string]dashCache
	// dashWant are the ranges a view found stale, for RefreshDashboard.
	dashWant map[string]bool
	// dashBusy are the ranges being computed.
	dashBusy   map[string]bool
	dashLoaded bool
	// dashWake asks RefreshDashboard to recompute the aggregates.
	dashWake chan struct{}
	// downloads holds a token per export being streamed.
	downloads chan struct{}
}

// New parses the templates and returns the UI.
func New(d Deps) (*UI, error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	u := &UI{Deps: d, dashWake: make(chan struct{}, 1), dash: map[string]dashCache{}, dashWant: map[string]bool{}, dashBusy: map[string]bool{}, downloads: make(chan struct{}, maxDownloads),
		zonePages: map[string]pageSet{}}
	var err error
	if u.pages, err = parsePages(time.UTC); err != nil {
		return nil, err
	}
	return u, nil
}

// pageSet is every page's template, with the template functions of one
// time zone.
type pageSet map[string]*template.Template

// parsePages parses the templates with times written in loc.
func parsePages(loc *time.Location) (pageSet, error) {
	pages := pageSet{}
	base, err := template.New("layout.html").Funcs(funcsIn(loc)).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("ui templates: %w", err)
	}
	entries, _ := fs.ReadDir(templateFS, "templates")
	for _, e := range entries {
		name := e.Name()
		if name == "layout.html" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("ui template %s: %w", name, err)
		}
		pages[strings.TrimSuffix(name, ".html")] = t
	}
	return pages, nil
}

// MaxZoneSets bounds the page sets kept per time zone: people choose a
// few zones; beyond this many, a page in a zone not kept is parsed for
// its request (milliseconds).
const MaxZoneSets = 32

// pagesIn returns the pages writing times in loc.
func (u *UI) pagesIn(loc *time.Location) (pageSet, error) {
	if loc == nil || loc == time.UTC {
		return u.pages, nil
	}
	u.zoneMu.Lock()
	ps, ok := u.zonePages[loc.String()]
	u.zoneMu.Unlock()
	if ok {
		return ps, nil
	}
	ps, err := parsePages(loc)
	if err != nil {
		return nil, err
	}
	u.zoneMu.Lock()
	if len(u.zonePages) < MaxZoneSets {
		u.zonePages[loc.String()] = ps
	}
	u.zoneMu.Unlock()
	return ps, nil
}

// Register adds the UI's routes to mux.
func (u *UI) Register(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", u.headers(http.StripPrefix("/static/", noListing(static, cacheStatic(http.FileServerFS(static))))))
	mux.Handle("GET /login", u.headers(http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /login", u.headers(http.HandlerFunc(u.login)))
	mux.Handle("POST /logout", u.page(false, u.logout))
	// Any signed-in key sets its own time zone: the handler checks the
	// CSRF token, and no admin role is needed.
	mux.Handle("POST /preferences/time-zone", u.page(false, u.setTimeZone))

	mux.Handle("GET /{$}", u.page(false, u.dashboard))
	mux.Handle("GET /integrations", u.page(false, u.feeds))
	mux.Handle("POST /integrations/feeds", u.page(true, u.addFeed))
	mux.Handle("GET /integrations/feeds/{id}", u.page(false, u.listFeed))
	mux.Handle("POST /integrations/feeds/{id}/remove", u.page(true, u.removeFeed))
	mux.Handle("POST /integrations/feeds/{id}/config", u.page(true, u.saveListFeed))
	mux.Handle("POST /integrations/feeds/{id}/enable", u.page(true, u.enableListFeed))
	mux.Handle("POST /integrations/feeds/{id}/disable", u.page(true, u.disableListFeed))
	mux.Handle("POST /integrations/feeds/{id}/run", u.page(true, u.runListFeed))
	mux.Handle("GET /integrations/seclytics", u.page(false, u.integration))
	mux.Handle("GET /integrations/seclytics/activity", u.page(false, u.activityTab))
	mux.Handle("GET /integrations/seclytics/runs/{id}", u.page(false, u.runRow))
	mux.Handle("POST /integrations/seclytics/config", u.page(true, u.saveConfig))
	mux.Handle("POST /integrations/seclytics/enable", u.page(true, u.enable))
	mux.Handle("POST /integrations/seclytics/disable", u.page(true, u.disable))
	mux.Handle("POST /integrations/seclytics/uninstall", u.page(true, u.uninstall))
	mux.Handle("POST /integrations/seclytics/run", u.page(true, u.runNow))
	mux.Handle("POST /integrations/seclytics/runs/{id}/cancel", u.page(true, u.cancelRun))
	mux.Handle("GET /indicators", u.page(false, u.indicators))
	mux.Handle("GET /indicators/{ip}", u.page(false, u.indicatorDetail))
	mux.Handle("GET /indicators/{ip}/cluster", u.page(false, u.clusterFragment))
	mux.Handle("POST /indicators/{ip}/status", u.page(true, u.setStatus))
	mux.Handle("POST /indicators/status", u.page(true, u.bulkStatus))
	mux.Handle("GET /lookup", u.page(false, u.lookup))
	mux.Handle("GET /allowlist", u.page(false, u.allowlistPage))
	mux.Handle("POST /allowlist", u.page(true, u.addAllowlist))
	mux.Handle("POST /allowlist/remove", u.page(true, u.removeAllowlist))
	mux.Handle("GET /keys", u.page(false, u.keysPage))
	mux.Handle("POST /keys", u.page(true, u.createKey))
	mux.Handle("POST /keys/revoke", u.page(true, u.revokeKey))
	mux.Handle("GET /output-profiles", u.page(false, u.outputsPage))
	mux.Handle("POST /output-profiles", u.page(true, u.createOutput))
	mux.Handle("POST /output-profiles/rotate-key", u.page(true, u.rotateOutputKey))
	mux.Handle("POST /output-profiles/remove", u.page(true, u.removeOutput))
	mux.Handle("GET /audit", u.page(false, u.auditPage))
	mux.Handle("GET /exports", u.page(false, u.exportsPage))
	mux.Handle("GET /exports/{format}", u.download(u.downloadExport))
	mux.Handle("GET /indicators/export", u.download(u.exportSearch))
}

// noListing answers 404 for a directory: the file server would list it,
// and what the UI ships is no one's business beyond the files it links.
func noListing(fsys fs.FS, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(r.URL.Path, "/")
		if name == "" {
			name = "."
		}
		if fi, err := fs.Stat(fsys, name); err == nil && fi.IsDir() {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// headers sets the security headers every UI response carries.
func (u *UI) headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// RequestTimeout is the budget of every page and of sign-in: a page that
// waits for the store longer answers 503.
const RequestTimeout = 30 * time.Second

// page wraps a handler: it needs a session (else it redirects to the
// sign-in page); a change also needs the admin role and the CSRF token.
func (u *UI) page(change bool, h func(w http.ResponseWriter, r *http.Request, se *session) error) http.Handler {
	return u.pageWithin(change, RequestTimeout, h)
}

// DownloadTimeout bounds a download the UI streams: the whole store in
// one format takes a minute or two at millions of indicators.
const DownloadTimeout = 30 * time.Minute

// download is a page that streams an export, with DownloadTimeout.
func (u *UI) download(h func(w http.ResponseWriter, r *http.Request, se *session) error) http.Handler {
	return u.pageWithin(false, DownloadTimeout, h)
}

func (u *UI) pageWithin(change bool, timeout time.Duration, h func(w http.ResponseWriter, r *http.Request, se *session) error) http.Handler {
	return u.headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		// A session ends when it expires, when its browser signs out,
		// and when its API key is revoked.
		se, ok, err := u.session(r)
		if err != nil {
			u.Log.Error("ui: read the session", "err", err)
			u.fail(w, r, nil, http.StatusServiceUnavailable, "The session could not be read from the store: try again.")
			return
		}
		if !ok {
			if r.Method != http.MethodGet {
				u.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended: sign in again, then repeat what you did.")
				return
			}
			http.Redirect(w, r, "/login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if change {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if !se.validCSRF(r) {
				u.fail(w, r, se, http.StatusForbidden, "The form was out of date (its CSRF token is missing or stale): reload the page and try again.")
				return
			}
			if !se.Admin() {
				u.fail(w, r, se, http.StatusForbidden, "You are signed in with a read-only key: changes need a key with the admin role. Sign out and sign in with an admin key.")
				return
			}
		}
		if r.Method == http.MethodGet && r.Header.Get("HX-Request") == "" {
			se.Alert = u.feedAlert(r)
		}
		if err := h(w, r, se); err != nil {
			u.Log.Error("ui request failed", "path", r.URL.Path, "err", err)
			status, msg := storeFailure(w, r, err)
			u.fail(w, r, se, status, msg)
		}
	}))
}

// messageData is a full page that says one thing: an error or a dead end,
// with the way back.
type messageData struct {
	Msg  string
	Back string
}

// fail answers with a full page (navigation included when signed in)
// holding msg, written for the person in front of it.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, se *session, status int, msg string) {
	title := http.StatusText(status)
	if status == http.StatusConflict {
		title = "Not now"
	}
	back := r.Referer()
	if back == "" || !strings.HasPrefix(back, "http") {
		back = "/"
	}
	if err := u.render(w, status, "message", view{Title: title, Session: se, Data: messageData{Msg: msg, Back: back}}); err != nil {
		u.Log.Error("render an error page", "err", err)
		http.Error(w, msg, status)
	}
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Session *session
	Data    any
	Notice  string
	Error   string
}

func (u *UI) render(w http.ResponseWriter, status int, page string, v view) error {
	var loc *time.Location
	if v.Session != nil {
		loc = v.Session.loc
	}
	pages, err := u.pagesIn(loc)
	if err != nil {
		return err
	}
	t, ok := pages[page]
	if !ok {
		return fmt.Errorf("no template %s", page)
	}
	var b strings.Builder
	name := "layout.html"
	if t.Lookup("fragment") != nil && v.Nav == "fragment" {
		name = "fragment"
	}
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write([]byte(b.String()))
	return err
}

// funcsIn are the templates' functions, writing times in loc.
func funcsIn(loc *time.Location) template.FuncMap {
	f := template.FuncMap{
		"time": func(v any) template.HTML { return timeHTML(loc, v) },
		"attr": func(ind indicator.Indicator, name string) string {
			return valueText(loc, ind.Attr(name))
		},
		"attrRows": func(ind indicator.Indicator) []attrRow { return attrRows(loc, ind) },
	}
	for k, v := range funcs {
		if _, ok := f[k]; !ok {
			f[k] = v
		}
	}
	return f
}

var funcs = template.FuncMap{
	// build is which forewarn this is, for the footer of signed-in pages
	// (the sign-in page does not tell strangers the version).
	"build": buildinfo.Get,
	"num":   num,
	"inc":   func(n int64) int64 { return n + 1 },
	"tone":  statusTone,
	"ago": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return humanDuration(time.Since(*t)) + " ago"
	},
	"dur":   func(r activity.Run) string { return r.Duration().Round(time.Millisecond).String() },
	"bytes": activity.HumanBytes,
	"join":  strings.Join,
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"contextNames": func() []string { return config.ContextNames },
	// query encodes a value for a URL's query. html/template does not know
	// htmx's hx-get as a URL attribute, so it would only HTML-escape it: a
	// cluster named "a&b#c" would cut the query short.
	"query": url.QueryEscape,
	"path":  url.PathEscape,
	"list":  func(s ...string) []string { return s },
	"deref": func(f *float64) string { return strconv.FormatFloat(*f, 'f', -1, 64) },
	// flip is the sort a column header links to: ascending first, then
	// descending.
	"flip": func(cur, col string) string {
		if cur == col || (cur == "" && col == "value") {
			return "-" + col
		}
		return col
	},
	"arrow": func(cur, col string) string {
		switch cur {
		case col:
			return " ▲"
		case "-" + col:
			return " ▼"
		}
		if cur == "" && col == "value" {
			return " ▲"
		}
		return ""
	},
	"attrs": func(ind indicator.Indicator, name string) string {
		var out []string
		for _, a := range ind.Attributes {
			if a.Name == name {
				a.Value.Texts(func(v string) { out = append(out, v) })
			}
		}
		return strings.Join(out, ", ")
	},
}

// attrRow is one line of an indicator's attribute table: a list attribute
// gives one line per item.
type attrRow struct {
	Name, Value, Source  string
	CreatedAt, UpdatedAt time.Time
}

func attrRows(loc *time.Location, ind indicator.Indicator) []attrRow {
	rows := make([]attrRow, 0, len(ind.Attributes))
	for _, a := range ind.Attributes {
		add := func(v string) {
			rows = append(rows, attrRow{Name: a.Name, Value: v, Source: a.Source, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
		}
		if a.Value.Kind == indicator.KindList {
			a.Value.Texts(add)
		} else if a.Value.Kind != indicator.KindNone {
			add(valueText(loc, a.Value))
		}
	}
	return rows
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
