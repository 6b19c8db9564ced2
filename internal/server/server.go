package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"forewarn/internal/activity"
	"forewarn/internal/api"
	"forewarn/internal/apikey"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/metrics"
	"forewarn/internal/output"
	"forewarn/internal/pivot"
	"forewarn/internal/runner"
	"forewarn/internal/service"
	"forewarn/internal/store"
	"forewarn/internal/taxii"
	"forewarn/internal/ui"
)

// DefaultListen is where serve listens unless told otherwise: loopback.
const DefaultListen = "127.0.0.1:8080"

// Config configures one serve process.
type Config struct {
	DB      string
	Listen  string
	TLSCert string
	TLSKey  string
	Log     *slog.Logger
	// Out receives what a person must see once: the first admin key.
	Out io.Writer
	// Grace bounds how long shutdown waits for requests and runs.
	Grace time.Duration
	// FeedOptions are the base of every run's options (tests shorten the
	// retry backoff).
	FeedOptions feed.Options
	// Ready, if set, is called with the bound address once serving.
	Ready func(addr net.Addr)
	// Sync is how often serve looks for changes other processes made to
	// the store (runs, configuration): 0 means DefaultSync.
	Sync time.Duration
	// Feeds are the feeds this process knows, by name: nil means forewarn's
	// built-in feed.
	Feeds []string
	// TrustedProxies are the reverse proxies in front of serve: the web
	// UI takes the client's address from their X-Forwarded-For and TLS
	// from their X-Forwarded-Proto.
	TrustedProxies []netip.Prefix
	// Exports bounds export downloads (zero fields: the API's defaults).
	Exports api.ExportLimits
	// Pivots are the web UI's links to third-party pages about an
	// address (serve --pivot); none by default.
	Pivots []pivot.Link
}

// ParseTrustedProxies reads a comma-separated list of addresses and CIDRs,
// as --trusted-proxy takes it.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxy %q: give the proxy's IP address or a CIDR such as 10.0.0.0/8", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// DefaultSync is how often serve looks for changes made by other processes
// sharing its store: another serve instance on the same PostgreSQL
// database, or a forewarn run from the command line.
const DefaultSync = 15 * time.Second

// Run serves until ctx is canceled, then shuts down gracefully: it wires
// the parts, then hands them to the actors, which start and stop together.
// The store closes only after every actor, and so every goroutine serve
// started, has stopped.
func Run(ctx context.Context, c Config) error {
	c, err := c.withDefaults()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	// Every admitted export has a connection of the exports' own pool.
	st.SetExportConns(c.Exports.Total)
	if err := firstKey(ctx, st, c.Out); err != nil {
		return err
	}
	p, err := assemble(ctx, st, c)
	if err != nil {
		return err
	}
	ln, err := listen(c, p.srv)
	if err != nil {
		return err
	}
	// From here on, jobs may fire: only the actors stop them.
	if err := p.sched.start(ctx); err != nil {
		ln.Close()
		return err
	}
	log := c.Log
	log.Info("forewarn serving", "url", fmt.Sprintf("%s://%s", c.scheme(), ln.Addr()), "db", st.Path())
	if c.Ready != nil {
		c.Ready(ln.Addr())
	}
	err = act(
		untilDone(ctx, c.Grace, log),
		serveHTTP(ctx, p.srv, ln, c.Grace, log),
		cancelRuns(ctx, p.runs, c.Grace),
		loopActor(ctx, "scheduler", p.sched.loop),
		loopActor(ctx, "lookup-index refresher", p.ref.loop),
		loopActor(ctx, "dashboard refresher", p.web.RefreshDashboard),
		loopActor(ctx, "expiry sweeper", func(ctx context.Context) error {
			// Indicators age out on time even when no feed run comes.
			return expireEvery(ctx, st, ExpiryInterval, p.ref.trigger, log)
		}),
		loopActor(ctx, "instance sync", func(ctx context.Context) error {
			// Changes by other processes: indicators (rebuild the lookup
			// index, the gauges, the dashboard) and feed configurations.
			return syncEvery(ctx, st, p.sched, c.Sync, p.ref, log)
		}),
	)
	if err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// withDefaults fills in what c leaves out and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	if c.Sync <= 0 {
		c.Sync = DefaultSync
	}
	if c.Feeds == nil {
		c.Feeds = []string{feed.Name}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	c.Exports = c.Exports.WithDefaults()
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, errors.New("give both --tls-cert and --tls-key, or neither")
	}
	return c, nil
}

func (c Config) scheme() string {
	if c.TLSCert != "" {
		return "https"
	}
	return "http"
}

// parts are the pieces of one serve process, wired to each other.
type parts struct {
	look  *lookup.Service
	ref   *refresher
	runs  *runner.Manager
	sched *schedule
	web   *ui.UI
	srv   *http.Server
	outs  *outputObserver
}

// assemble builds the lookup index and the parts around the store.
// Nothing it builds has started a goroutine yet.
func assemble(ctx context.Context, st *store.Store, c Config) (*parts, error) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Known(c.Feeds, []string{string(indicator.StatusActive), string(indicator.StatusExpired),
		string(indicator.StatusWhitelisted), string(indicator.StatusReview)})
	p := &parts{look: lookup.NewService(st), outs: newOutputObserver(ctx, st, m, c.Log)}
	t0 := time.Now()
	ver, err := st.DataVersion(ctx)
	if err != nil {
		return nil, err
	}
	if err := p.look.Rebuild(ctx); err != nil {
		return nil, fmt.Errorf("build the lookup index: %w", err)
	}
	c.Log.Info("lookup index built", "netblocks", p.look.Netblocks(), "took", time.Since(t0).Round(time.Millisecond).String())
	keepHeadroom(c.Log)
	p.ref = newRefresher(st, p.look, m, c.Log)
	p.ref.ver = ver
	p.ref.counts(ctx)
	for _, name := range c.Feeds {
		if t, ok := lastSuccess(ctx, st, name); ok {
			m.SetLastSuccess(name, t)
		}
	}
	p.runs = runner.New(st, c.Log, c.FeedOptions, func(r *activity.Run, err error) {
		m.ObserveRun(r)
		if !r.DryRun && (r.IndicatorsCreated > 0 || r.IndicatorsUpdated > 0 || r.IndicatorsExpired > 0 || r.IndicatorsDelisted > 0) {
			p.ref.trigger()
		}
	})
	// The list feeds' runs and schedules, through the use cases (the
	// lookup index follows each run through finished above).
	lists := service.New(service.Deps{Store: st, Log: c.Log, Feeds: c.Feeds})
	p.runs.RunListFeeds(func(ctx context.Context, name, trigger string, onStart func(*activity.Run)) (*activity.Run, error) {
		return lists.ListRun(ctx, name, service.ListRunOptions{Trigger: trigger, TempDir: c.FeedOptions.StageDir, OnStart: onStart})
	})
	p.sched = newSchedule(st, p.runs, c.Feeds, c.Log)
	p.sched.lists = lists
	mux, err := p.routes(st, c, reg)
	if err != nil {
		return nil, err
	}
	// The dashboard's aggregates follow every change, and are checked
	// now: saved ones from a previous process may be stale.
	p.ref.setAfter(p.web.DataChanged)
	p.web.DataChanged(ctx)
	p.srv = &http.Server{
		Handler:           m.Instrument(recoverPanics(c.Log, mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(c.Log.Handler(), slog.LevelWarn),
		// Exports bound their connection's send buffer.
		ConnContext: api.WithConn,
	}
	return p, nil
}

// routes registers the API, /metrics, TAXII and the web UI.
func (p *parts) routes(st *store.Store, c Config, reg *prometheus.Registry) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	svc := service.New(service.Deps{Store: st, Runner: p.runs, Scheduler: p.sched, Changed: p.ref.trigger, Log: c.Log, Feeds: c.Feeds})
	api.New(api.Deps{Store: st, Service: svc, Runner: p.runs, Scheduler: p.sched, Lookup: p.look, Log: c.Log,
		ExportSource: st, Exports: c.Exports,
		DataVersion: func(ctx context.Context) (api.Version, error) {
			gen, at := p.ref.version()
			return exportVersion(ctx, st, nonce, gen, at, time.Now())
		},
	}).Register(mux)
	mux.Handle("GET /metrics", metrics.Handler(reg))
	output.NewHandler(st, p.outs, c.Log).Register(mux)
	taxii.New(st, taxii.STIXMapper{}, c.Log).Register(mux)
	web, err := ui.New(ui.Deps{Store: st, Service: svc, Runner: p.runs, Scheduler: p.sched, Lookup: p.look, Log: c.Log, Feed: feed.Name,
		Secure: c.TLSCert != "", TrustedProxies: c.TrustedProxies, Pivots: c.Pivots})
	if err != nil {
		return nil, err
	}
	web.Register(mux)
	p.web = web
	return mux, nil
}

// versionStore is what export validators read: *store.Store.
type versionStore interface {
	DataVersion(ctx context.Context) (store.DataVersion, error)
	ActiveDue(ctx context.Context, now time.Time) (int64, time.Time, error)
}

// exportVersion is the export validators' version as of now. The store's
// own summary catches changes by other processes (a CLI run); the
// refresher's counter gen (last moved at genAt) catches this one's status
// changes and purges within the same second; the count of Active
// indicators already due catches an expiry passing before the expiry job
// marks it (a blocklist leaves it out at once); the nonce makes every
// validator change on restart.
func exportVersion(ctx context.Context, st versionStore, nonce string, gen uint64, genAt, now time.Time) (api.Version, error) {
	dv, err := st.DataVersion(ctx)
	if err != nil {
		return api.Version{}, err
	}
	due, dueAt, err := st.ActiveDue(ctx, now)
	if err != nil {
		return api.Version{}, err
	}
	last := dv.LastUpdate
	for _, t := range []time.Time{genAt, dueAt} {
		if t.After(last) {
			last = t
		}
	}
	return api.Version{Seed: fmt.Sprintf("%s/%d/%d/%d/%d", nonce, gen, dv.Count, dv.LastUpdate.Unix(), due), LastModified: last}, nil
}

// listen binds c.Listen, with TLS when configured (srv gets its
// configuration, so that it offers HTTP/2 over it).
func listen(c Config, srv *http.Server) (net.Listener, error) {
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another forewarn serve running? choose another address with --listen)", c.Listen, err)
	}
	if c.TLSCert == "" {
		if !isLoopback(ln.Addr()) {
			c.Log.Warn("serving plain HTTP on a non-loopback address: API keys cross the network in clear text; configure --tls-cert and --tls-key, or put a TLS proxy in front", "listen", ln.Addr().String())
		}
		return ln, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return tls.NewListener(ln, srv.TLSConfig), nil
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// firstKey creates an admin key when there is none, and prints it once.
func firstKey(ctx context.Context, st *store.Store, out io.Writer) error {
	n, err := st.ActiveAPIKeys(ctx)
	if err != nil || n > 0 {
		return err
	}
	name := "admin"
	for i := 2; ; i++ {
		key, k, err := st.CreateAPIKey(ctx, name, apikey.RoleAdmin)
		if errors.Is(err, store.ErrConflict) {
			name = fmt.Sprintf("admin-%d", i)
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "No API key existed, so forewarn created an admin key named %q. It is shown only this once:\n\n    %s\n\n"+
			"Send it as: Authorization: Bearer <key>\nCreate more with: forewarn apikey create --name NAME --role read|admin|sightings\n\n", k.Name, key)
		return nil
	}
}

// lastSuccess is when the feed's last successful run finished.
func lastSuccess(ctx context.Context, st *store.Store, name string) (time.Time, bool) {
	page, err := st.ListRuns(ctx, store.RunQuery{Feed: name, Status: string(activity.StatusSucceeded), Limit: 1})
	if err != nil || len(page.Runs) == 0 || page.Runs[0].FinishedAt == nil {
		return time.Time{}, false
	}
	return *page.Runs[0].FinishedAt, true
}

// heapHeadroom is how far above the live heap serve's soft memory limit
// sits: cmd/forewarn's 128 MiB bounds a run's garbage, but serve's lookup
// index is live (about 150 MB at 5M indicators), and under a limit it
// already fills the collector runs nearly without pause, so that every
// allocation (an output fetch's 44 MB for a 10k crowdsec budget) costs
// three times its CPU (docs/performance.md, "Output profiles").
const heapHeadroom = 128 << 20

// keepHeadroom raises the soft memory limit to the live heap plus
// heapHeadroom, when GOMEMLIMIT does not set it and it is lower.
func keepHeadroom(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	want := int64(ms.HeapAlloc) + heapHeadroom
	if cur := debug.SetMemoryLimit(-1); cur < want {
		debug.SetMemoryLimit(want)
		log.Info("soft memory limit raised above the lookup index", "live_heap_mib", ms.HeapAlloc>>20, "limit_mib", want>>20)
	}
}
