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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"forewarn/internal/activity"
	"forewarn/internal/api"
	"forewarn/internal/apikey"
	"forewarn/internal/config"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/metrics"
	"forewarn/internal/runner"
	"forewarn/internal/scheduler"
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

// Run serves until ctx is canceled, then shuts down gracefully.
func Run(ctx context.Context, c Config) error {
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
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("give both --tls-cert and --tls-key, or neither")
	}
	log := c.Log
	st, err := store.Open(ctx, c.DB)
	if err != nil {
		return err
	}
	defer st.Close()
	c.Exports = c.Exports.WithDefaults()
	// Every admitted export has a connection of the exports' own pool.
	st.SetExportConns(c.Exports.Total)
	if err := firstKey(ctx, st, c.Out); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Known(c.Feeds, []string{string(indicator.StatusActive), string(indicator.StatusExpired),
		string(indicator.StatusWhitelisted), string(indicator.StatusReview)})
	look := lookup.NewService(st)
	t0 := time.Now()
	ver, err := st.DataVersion(ctx)
	if err != nil {
		return err
	}
	if err := look.Rebuild(ctx); err != nil {
		return fmt.Errorf("build the lookup index: %w", err)
	}
	log.Info("lookup index built", "netblocks", look.Netblocks(), "took", time.Since(t0).Round(time.Millisecond).String())
	ref := newRefresher(st, look, m, log)
	ref.ver = ver
	ref.counts(ctx)
	for _, name := range c.Feeds {
		if t, ok := lastSuccess(ctx, st, name); ok {
			m.SetLastSuccess(name, t)
		}
	}

	mgr := runner.New(st, log, c.FeedOptions, func(r *activity.Run, err error) {
		m.ObserveRun(r)
		if !r.DryRun && (r.IndicatorsCreated > 0 || r.IndicatorsUpdated > 0 || r.IndicatorsExpired > 0) {
			ref.trigger()
		}
	})
	var sc *schedule
	sched, err := scheduler.New(func(name string) {
		// Another instance sharing the store may have run the feed on
		// this same schedule: the store's last run decides.
		if due, next, err := sc.due(ctx, name); err == nil && !due {
			log.Info("scheduled run skipped: the feed already ran on this schedule (another instance?)", "feed", name, "next", next)
			go func() {
				if err := sc.Reschedule(ctx, name); err != nil {
					log.Error("feed not rescheduled", "feed", name, "err", err)
				}
			}()
			return
		}
		a, err := mgr.Start(name, runner.Request{Trigger: activity.TriggerSchedule})
		var ip *store.InProgressError
		switch {
		case errors.As(err, &ip):
			log.Info("scheduled run skipped: the feed is running", "feed", name, "err", err)
		case err != nil:
			log.Error("scheduled run did not start", "feed", name, "err", err)
		default:
			<-a.Done()
		}
	}, log)
	if err != nil {
		return err
	}
	sc = &schedule{st: st, s: sched, seen: map[string]string{}, feeds: c.Feeds}
	for _, name := range c.Feeds {
		if err := sc.Reschedule(ctx, name); err != nil {
			log.Error("feed not scheduled", "feed", name, "err", err)
		}
	}

	// Indicators age out on time even when no feed run comes.
	expiryCtx, cancelExpiry := context.WithCancel(ctx)
	expiryDone := make(chan struct{})
	go func() { defer close(expiryDone); expireEvery(expiryCtx, st, ExpiryInterval, ref.trigger, log) }()
	stopExpiry := sync.OnceFunc(func() { cancelExpiry(); <-expiryDone })
	defer stopExpiry()
	// Changes by other processes: indicators (rebuild the lookup index,
	// the gauges, the dashboard) and feed configurations (reschedule).
	syncDone := make(chan struct{})
	go func() { defer close(syncDone); syncEvery(expiryCtx, st, sc, c.Sync, ref, log) }()
	defer func() { cancelExpiry(); <-syncDone }()

	mux := http.NewServeMux()
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	svc := service.New(service.Deps{Store: st, Runner: mgr, Scheduler: sc, Changed: ref.trigger, Log: log, Feeds: c.Feeds})
	api.New(api.Deps{Store: st, Service: svc, Runner: mgr, Scheduler: sc, Lookup: look, Log: log,
		ExportSource: st, Exports: c.Exports,
		DataVersion: func(ctx context.Context) (api.Version, error) {
			// The store's own summary catches changes by other processes
			// (a CLI run); the counter catches this one's status changes
			// and purges within the same second. The nonce makes every
			// validator change on restart.
			dv, err := st.DataVersion(ctx)
			if err != nil {
				return api.Version{}, err
			}
			gen, at := ref.version()
			last := dv.LastUpdate
			if at.After(last) {
				last = at
			}
			return api.Version{Seed: fmt.Sprintf("%s/%d/%d/%d", nonce, gen, dv.Count, dv.LastUpdate.Unix()), LastModified: last}, nil
		},
	}).Register(mux)
	mux.Handle("GET /metrics", metrics.Handler(reg))
	taxii.New(st, taxii.STIXMapper{}, log).Register(mux)
	web, err := ui.New(ui.Deps{Store: st, Service: svc, Runner: mgr, Scheduler: sc, Lookup: look, Log: log, Feed: feed.Name, Secure: c.TLSCert != "", TrustedProxies: c.TrustedProxies})
	if err != nil {
		return err
	}
	// The dashboard's aggregates follow every change, and are checked
	// now: saved ones from a previous process may be stale.
	ref.setAfter(web.DataChanged)
	web.DataChanged()
	web.Register(mux)
	srv := &http.Server{
		Handler:           m.Instrument(recoverPanics(log, mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Exports bound their connection's send buffer.
		ConnContext: api.WithConn,
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another forewarn serve running? choose another address with --listen)", c.Listen, err)
	}
	scheme := "http"
	if c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	} else if !isLoopback(ln.Addr()) {
		log.Warn("serving plain HTTP on a non-loopback address: API keys cross the network in clear text; configure --tls-cert and --tls-key, or put a TLS proxy in front", "listen", ln.Addr().String())
	}
	log.Info("forewarn serving", "url", fmt.Sprintf("%s://%s", scheme, ln.Addr()), "db", st.Path())
	if c.Ready != nil {
		c.Ready(ln.Addr())
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", c.Grace.String())
	case err := <-serveErr:
		log.Error("HTTP server stopped", "err", err)
	}

	grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Grace)
	defer cancel()
	var wg sync.WaitGroup
	var httpErr, runErr error
	wg.Add(2)
	go func() { defer wg.Done(); httpErr = srv.Shutdown(grace) }()
	go func() { defer wg.Done(); runErr = mgr.Shutdown(grace) }()
	wg.Wait()
	if err := sched.Shutdown(); err != nil {
		log.Warn("scheduler shutdown", "err", err)
	}
	stopExpiry()
	ref.wait()
	if httpErr != nil {
		srv.Close()
		log.Warn("requests still open after the grace period were closed", "err", httpErr)
	}
	if runErr != nil {
		return fmt.Errorf("runs did not stop within %s: %w", c.Grace, runErr)
	}
	log.Info("stopped")
	return nil
}

// ExpiryInterval is how often serve marks indicators past their age-out
// as Expired, besides every feed run.
const ExpiryInterval = time.Hour

// expireEvery calls st.ExpireDue every interval until ctx ends, and changed
// when it expired something.
func expireEvery(ctx context.Context, st *store.Store, interval time.Duration, changed func(), log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := st.ExpireDue(ctx, now)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("periodic expiry failed; the next feed run or tick retries", "err", err)
			case n > 0:
				log.Info("indicators expired", "count", n)
				changed()
			}
		}
	}
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
			"Send it as: Authorization: Bearer <key>\nCreate more with: forewarn apikey create --name NAME --role read|admin\n\n", k.Name, key)
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

// schedule keeps the scheduler in step with the stored feed state.
type schedule struct {
	st *store.Store
	s  *scheduler.Scheduler

	mu sync.Mutex
	// seen is, per feed, the scheduling state last applied.
	seen map[string]string
	// feeds are the feeds syncEvery looks at.
	feeds []string
}

// syncEvery polls the store for changes other processes made: a
// DataVersion the last rebuild did not cover triggers a rebuild, and a feed
// whose installed, enabled or frequency state changed is rescheduled.
func syncEvery(ctx context.Context, st *store.Store, sc *schedule, interval time.Duration, ref *refresher, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := st.DataVersion(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("read the store's version", "err", err)
		case err == nil && !ref.current(v):
			log.Info("indicators changed by another process; refreshing the lookup index")
			ref.trigger()
		}
		for _, name := range sc.feeds {
			if err := sc.Sync(ctx, name); err != nil && ctx.Err() == nil {
				log.Warn("feed not rescheduled", "feed", name, "err", err)
			}
		}
	}
}

// Sync reschedules the feed if its stored scheduling state (installed,
// enabled, frequency) differs from the one last applied.
func (sc *schedule) Sync(ctx context.Context, name string) error {
	cfg, state, err := sc.st.FeedConfig(ctx, name)
	if err != nil {
		return err
	}
	sc.mu.Lock()
	same := sc.seen[name] == schedKey(cfg, state)
	sc.mu.Unlock()
	if same {
		return nil
	}
	return sc.Reschedule(ctx, name)
}

func schedKey(cfg config.Seclytics, state store.FeedState) string {
	return fmt.Sprintf("%v/%v/%s", state.Installed, state.Enabled, cfg.Frequency)
}

// lastRun is when the feed's last run that was not a dry run started
// (zero if none).
func (sc *schedule) lastRun(ctx context.Context, name string) (time.Time, error) {
	runs, err := sc.st.Runs(ctx, name, 50)
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs {
		if !r.DryRun {
			return r.StartedAt, nil
		}
	}
	return time.Time{}, nil
}

// dueSlack absorbs a timer firing a little early.
const dueSlack = 5 * time.Second

// due reports whether the feed's schedule, counted from its last run in
// the store, calls for a run now, and when the next one is due.
func (sc *schedule) due(ctx context.Context, name string) (bool, time.Time, error) {
	cfg, _, err := sc.st.FeedConfig(ctx, name)
	if err != nil {
		return false, time.Time{}, err
	}
	freq, err := config.ParseFrequency(cfg.Frequency)
	if err != nil {
		return false, time.Time{}, err
	}
	last, err := sc.lastRun(ctx, name)
	if err != nil || last.IsZero() {
		return true, time.Time{}, err
	}
	next, err := freq.Next(last)
	if err != nil {
		return false, time.Time{}, err
	}
	return !next.After(time.Now().Add(dueSlack)), next, nil
}

func (sc *schedule) NextRun(name string) (time.Time, bool) { return sc.s.NextRun(name) }

// Reschedule schedules the feed if it is installed and enabled, from its
// last run that was not a dry run, or removes its schedule.
func (sc *schedule) Reschedule(ctx context.Context, name string) error {
	cfg, state, err := sc.st.FeedConfig(ctx, name)
	if err != nil {
		return err
	}
	if !state.Installed || !state.Enabled {
		sc.s.Remove(name)
		sc.mu.Lock()
		sc.seen[name] = schedKey(cfg, state)
		sc.mu.Unlock()
		return nil
	}
	freq, err := config.ParseFrequency(cfg.Frequency)
	if err != nil {
		return err
	}
	last, err := sc.lastRun(ctx, name)
	if err != nil {
		return err
	}
	if err := sc.s.Set(name, freq, last); err != nil {
		return err
	}
	sc.mu.Lock()
	sc.seen[name] = schedKey(cfg, state)
	sc.mu.Unlock()
	return nil
}

// refresher rebuilds the lookup index and the indicator gauges after
// indicators changed, one rebuild at a time, coalescing triggers.
type refresher struct {
	st   *store.Store
	look *lookup.Service
	m    *metrics.Metrics
	log  *slog.Logger

	mu      sync.Mutex
	running bool
	dirty   bool
	wg      sync.WaitGroup

	// gen counts the changes this process made or saw, and changed is
	// when the last one happened: with the store's DataVersion they make
	// the exports' validators.
	gen     uint64
	changed time.Time
	// after runs after each rebuild.
	after func()
	// ver is the store's DataVersion the last rebuild started from.
	ver store.DataVersion
}

// current reports whether the last rebuild, or one under way, covers v.
func (r *refresher) current(v store.DataVersion) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running || r.ver == v
}

// setAfter makes fn run after each rebuild.
func (r *refresher) setAfter(fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.after = fn
}

// version returns the change counter and when it last moved.
func (r *refresher) version() (uint64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen, r.changed
}

func newRefresher(st *store.Store, look *lookup.Service, m *metrics.Metrics, log *slog.Logger) *refresher {
	return &refresher{st: st, look: look, m: m, log: log}
}

func (r *refresher) trigger() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	r.changed = time.Now().UTC()
	if r.running {
		r.dirty = true
		return
	}
	r.running = true
	r.wg.Add(1)
	go r.loop()
}

func (r *refresher) loop() {
	defer r.wg.Done()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if v, err := r.st.DataVersion(ctx); err == nil {
			r.mu.Lock()
			r.ver = v
			r.mu.Unlock()
		}
		r.counts(ctx)
		if err := r.look.Rebuild(ctx); err != nil {
			r.log.Error("rebuild the lookup index", "err", err)
		}
		cancel()
		r.mu.Lock()
		after := r.after
		r.mu.Unlock()
		if after != nil {
			after()
		}
		r.mu.Lock()
		if !r.dirty {
			r.running = false
			r.mu.Unlock()
			return
		}
		r.dirty = false
		r.mu.Unlock()
	}
}

func (r *refresher) counts(ctx context.Context) {
	stats, err := r.st.Stats(ctx)
	if err != nil {
		r.log.Error("count indicators", "err", err)
		return
	}
	m := map[string]int64{}
	for s, n := range stats.ByStatus {
		m[string(s)] = n
	}
	r.m.SetIndicators(m)
}

// wait waits for a rebuild in progress.
func (r *refresher) wait() { r.wg.Wait() }
