package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/apikey"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/progress"
	"forewarn/internal/secret"
	httpserver "forewarn/internal/server"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "demo [--db ./forewarn-demo.db] [--rows N] [--listen ADDR] [--no-serve]")
	db := fs.String("db", "forewarn-demo.db", "SQLite database file for the demo")
	rows := fs.Int("rows", 200000, "rows in the demo dump")
	seed := fs.Int64("seed", 1, "generator seed")
	listen := fs.String("listen", httpserver.DefaultListen, "where the demo serves the web UI")
	noServe := fs.Bool("no-serve", false, "end after the lookups instead of serving the web UI")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// A random token: the demo checks that forewarn sends one, and shows
	// that it is never printed.
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := "demo-" + hex.EncodeToString(raw)

	base, lists, stop, err := startDemoSeclytics(ctx, e, *rows, *seed, token)
	if err != nil {
		return err
	}
	defer stop()
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := demoIngest(ctx, e, st, *db, base, token); err != nil {
		return err
	}
	if err := demoListFeeds(ctx, e, st, lists, base, *seed); err != nil {
		return err
	}
	if err := demoShowLookups(ctx, e, st, *db); err != nil {
		return err
	}
	if *noServe {
		fmt.Fprintln(e.stdout, "\nNext: forewarn runs --db "+*db+"\n      forewarn export --db "+*db+" --format jsonl"+
			"\n      forewarn serve --db "+*db+"    (the web UI and REST API on http://127.0.0.1:8080; prints an admin key on first start)")
		return nil
	}
	return serveDemo(ctx, e, st, *db, *listen, base, token)
}

// serveDemo stores the demo's configuration (the built-in server, which
// keeps serving, and its token), creates an admin key, and serves the web
// UI on the demo's store until ctx ends.
func serveDemo(ctx context.Context, e *env, st *store.Store, db, listen, base, token string) error {
	cfg, _, err := st.FeedConfig(ctx, feed.Name)
	if err != nil {
		return err
	}
	if err := demoConfig(&cfg, base); err != nil {
		return err
	}
	cfg.Token = secret.New(token)
	svc, actor := operations(e, st)
	if _, err := svc.ConfigureFeed(ctx, actor, feed.Name, cfg, true); err != nil {
		return err
	}
	key, k, err := svc.CreateKey(ctx, actor, "demo-"+time.Now().UTC().Format("20060102-150405"), string(apikey.RoleAdmin), "made by forewarn demo")
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	if listen == httpserver.DefaultListen {
		// The default port may be taken on this machine: any free
		// loopback port will do for a demo.
		if ln, err := net.Listen("tcp", listen); err != nil {
			listen = "127.0.0.1:0"
		} else {
			ln.Close()
		}
	}
	return httpserver.Run(ctx, httpserver.Config{
		DB: db, Listen: listen, Out: e.stdout,
		Log: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Ready: func(addr net.Addr) {
			fmt.Fprintf(e.stdout, "\nThe web UI is at http://%s/ — sign in with the admin key %q:\n\n    %s\n\n"+
				"Press Ctrl-C to stop (forewarn demo --no-serve skips this step).\n", addr, k.Name, key)
		},
	})
}

var errStop = errors.New("stop")

// indicatorLister is what demoLookups reads: the store's indicators in
// address order.
type indicatorLister interface {
	EachIndicator(ctx context.Context, fn func(*indicator.Indicator) error) error
}

// demoLookups picks the demo's lookups: the first indicators in address
// order, an address next to the first one that only its predicted netblock
// covers, and one address the feed never predicted. An indicator without
// a valid address is an error, not a panic: --db may name any store.
func demoLookups(ctx context.Context, st indicatorLister) ([]netip.Addr, error) {
	var addrs []netip.Addr
	err := st.EachIndicator(ctx, func(ind *indicator.Indicator) error {
		if len(addrs) == 2 {
			return errStop
		}
		if !ind.Addr.IsValid() {
			return fmt.Errorf("demo: the store holds an %w (status %s): delete the demo store to start over", indicator.ErrNoAddress, ind.Status)
		}
		addrs = append(addrs, ind.Addr)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, err
	}
	if len(addrs) > 0 {
		// The first listed address's neighbour below it is unlisted: the
		// store is in address order.
		if prev := addrs[0].Prev(); prev.IsValid() {
			addrs = append(addrs, prev)
		}
	}
	// 192.0.2.1 is a documentation address: no feed predicts it.
	return append(addrs, netip.AddrFrom4([4]byte{192, 0, 2, 1})), nil
}

// startDemoSeclytics serves a generated dump like Seclytics' API, and the
// built-in list feeds at their publishers' paths, on loopback, and returns
// its base URL, the lists and how to stop it.
func startDemoSeclytics(ctx context.Context, e *env, rows int, seed int64, token string) (string, *fakeseclytics.Lists, func(), error) {
	fmt.Fprintf(e.stdout, "Generating a %d-row Seclytics dump and serving it on loopback...\n", rows)
	srv, err := fakeseclytics.New(ctx, fakeseclytics.Options{Rows: rows, Seed: seed, Token: token})
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, nil, fmt.Errorf("demo: listen on loopback: %w", err)
	}
	lists := fakeseclytics.NewLists(nil, time.Now())
	hs := &http.Server{Handler: fakeseclytics.Handler(srv, lists), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "Built-in test server (Seclytics and the list feeds): %s\n\n", base)
	return base, lists, func() { hs.Close(); srv.Close() }, nil
}

// demoListFeeds are the list feeds the demo runs beside Seclytics.
var demoLists = []string{"feodo", "spamhaus-drop", "blocklist-de"}

// demoOverlap is how many of Seclytics' first indicators (in address
// order) the demo's list feeds list too, beside as many of their own.
const demoOverlap = 50

// demoListFeeds serves list bodies that share Seclytics' first addresses
// (so that the lookups show several sources on one indicator), configures
// the demo's list feeds on the built-in server, enabled, and runs each.
func demoListFeeds(ctx context.Context, e *env, st *store.Store, lists *fakeseclytics.Lists, base string, seed int64) error {
	var prefixes []netip.Prefix
	err := st.EachIndicator(ctx, func(ind *indicator.Indicator) error {
		if len(prefixes) == demoOverlap {
			return errStop
		}
		if ind.Addr.IsValid() {
			prefixes = append(prefixes, netip.PrefixFrom(ind.Addr, ind.Addr.BitLen()))
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	lists.Set(append(prefixes, fakeseclytics.GeneratedPrefixes(seed, demoOverlap)...), time.Now())
	svc, actor := operations(e, st)
	for _, id := range demoLists {
		if _, err := svc.ConfigureListFeed(ctx, actor, id, service.ListFeedChange{BaseURL: &base}); err != nil {
			return err
		}
		if err := svc.SetFeedEnabled(ctx, actor, id, true); err != nil {
			return err
		}
		r, err := svc.RunListFeed(ctx, actor, id, service.ListRunOptions{Trigger: activity.TriggerCLI})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "\nList feed %s: %s, %d indicators created, %d updated, %d unchanged.\n",
			id, r.Status, r.IndicatorsCreated, r.IndicatorsUpdated, r.IndicatorsUnchanged)
	}
	return nil
}

// demoIngest runs the feed once against the built-in server, with a
// progress bar, and prints the run's summary and the store's size.
func demoIngest(ctx context.Context, e *env, st *store.Store, db, base, token string) error {
	prog := &feed.Progress{}
	bar := progress.Start(e.stderr, prog, 200*time.Millisecond)
	r, runErr := feed.Run(ctx, st, feed.Options{
		Trigger: activity.TriggerCLI, Token: secret.New(token), Progress: prog,
		Override: func(c *config.Seclytics) error { return demoConfig(c, base) },
	})
	bar.Stop()
	if r != nil {
		fmt.Fprint(e.stdout, r.Summary())
	}
	if runErr != nil {
		return runErr
	}
	if r.Status == activity.StatusUnchanged {
		fmt.Fprintf(e.stdout, "\nThe dump has not changed since the last demo run, so nothing was ingested (delete %s to start over).\n", db)
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nThe store %s holds %d indicators.\n", db, stats.Indicators)
	return nil
}

// demoConfig is the demo run's configuration over the stored one.
func demoConfig(c *config.Seclytics, base string) error {
	// The generated dump's Last Seen At dates span years: with the
	// default age_out most would be Expired on arrival.
	if err := c.Set("age_out", "never"); err != nil {
		return err
	}
	// Every attribute, so that the web UI's dashboard can show the lead
	// time (Detected At − Predicted At).
	if err := c.Set("context", "all"); err != nil {
		return err
	}
	if err := c.Set("normalize", "true"); err != nil {
		return err
	}
	return c.Set("base_url", base)
}

// demoShowLookups prints the verdicts of a few interesting addresses.
func demoShowLookups(ctx context.Context, e *env, st *store.Store, db string) error {
	addrs, err := demoLookups(ctx, st)
	if err != nil {
		return err
	}
	svc := lookup.NewService(lookup.Scoped(st, addrs))
	if err := svc.Rebuild(ctx); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\nA few lookups (forewarn lookup --db "+db+" IP):")
	for _, a := range addrs {
		r, err := svc.Lookup(ctx, a)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout)
		printResult(e.stdout, &r)
	}
	return nil
}
