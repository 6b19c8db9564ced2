package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/feed"
	"forewarn/internal/prediction"
	"forewarn/internal/progress"
	"forewarn/internal/secret"
	"forewarn/internal/store"
)

// runFlags are the per-run overrides of the stored configuration.
type runFlags struct {
	fs        *flag.FlagSet
	db        *string
	tokenFile *string
	token     *string
	since     *string
	until     *string
	dryRun    *bool
	logLevel  *string
	logFormat *string
	stageDir  *string
	cpuProf   *string
	// overrides maps a flag name to its configuration key.
	overrides map[string]string
}

func newRunFlags(e *env) *runFlags {
	fs := newFlags(e, "run", "run [FEED] [flags] (FEED: seclytics, the default, or a list feed from forewarn feeds)")
	f := &runFlags{fs: fs, db: dbFlag(e, fs)}
	f.tokenFile = fs.String("token-file", "", "read the Seclytics access token from this file")
	f.token = fs.String("token", "", "the access token (discouraged: visible in ps; prefer --token-file or SECLYTICS_ACCESS_TOKEN)")
	f.since = fs.String("since", "", "start of the date window (2006-01-02 or RFC 3339); default: the last successful run minus the overlap")
	f.until = fs.String("until", "", "end of the date window, exclusive; default: now")
	f.dryRun = fs.Bool("dry-run", false, "fetch, parse, filter and count without writing indicators")
	f.logLevel, f.logFormat = logFlags(fs, "warn")
	f.stageDir = fs.String("stage-dir", "", "directory for spill files of large runs (default: the system temporary directory)")
	f.cpuProf = fs.String("cpuprofile", "", "write a CPU profile of the run to this file (for developers)")
	f.overrides = map[string]string{}
	override := func(name, key, usage string) {
		fs.String(name, "", usage)
		f.overrides[name] = key
	}
	override("base-url", "base_url", "Seclytics API base URL (default https://api.seclytics.com)")
	override("dataset", "dataset", "A (all predictions) or B (score 70 or higher)")
	override("threshold", "threshold", "minimum importance, 0-100 inclusive")
	override("categories", "categories", "comma-separated detected-category whitelist; empty means all")
	override("context", "context", `context to keep, comma-separated ("all" for everything)`)
	override("overlap", "overlap", "overlap subtracted from the last run's end (default 48h)")
	override("age-out", "age_out", "how long an indicator stays Active after it was last seen, or never (default 2160h)")
	override("tries", "tries", "download attempts (default 5)")
	override("connect-timeout", "connect_timeout", "connect and response-header timeout (default 30s)")
	override("idle-timeout", "idle_timeout", "fail if the download stalls this long (default 60s)")
	override("max-compressed", "max_compressed", "largest download (default 4GiB)")
	override("max-decompressed", "max_decompressed", "largest dump after gunzip (default 32GiB)")
	override("max-line", "max_line", "longest line (default 1MiB)")
	override("max-netblock", "max_netblock", "widest predicted netblock kept, IPv4 then IPv6 (default /16,/32)")
	fs.Var(boolOverride{f, "normalize"}, "normalize", "add Normalized Importance (High/Medium/Low); --normalize=false to turn off")
	fs.Var(boolOverride{f, "allowlist_special_ranges"}, "allowlist-special-ranges", "ingest special-purpose addresses (private, loopback, ...) as Whitelisted; =false to turn off")
	fs.Var(boolOverride{f, "filter_by_date"}, "filter-by-date", "keep only rows dated inside the window; --filter-by-date=false to turn off")
	return f
}

// boolOverride is a boolean flag that records that it was set.
type boolOverride struct {
	f   *runFlags
	key string
}

func (b boolOverride) String() string   { return "" }
func (b boolOverride) IsBoolFlag() bool { return true }
func (b boolOverride) Set(v string) error {
	b.f.overrides["="+b.key] = v
	return nil
}

// apply sets every flag the user gave on cfg.
func (f *runFlags) apply(cfg *config.Seclytics) error {
	var err error
	f.fs.Visit(func(fl *flag.Flag) {
		if key, ok := f.overrides[fl.Name]; ok && err == nil {
			err = cfg.Set(key, fl.Value.String())
		}
	})
	for k, v := range f.overrides {
		if len(k) > 0 && k[0] == '=' && err == nil {
			err = cfg.Set(k[1:], v)
		}
	}
	return err
}

// token picks the token: --token-file, then --token, then the environment;
// empty means the stored one.
func (f *runFlags) tokenFrom(e *env) (secret.String, error) {
	switch {
	case *f.tokenFile != "":
		t, err := readTokenFile(*f.tokenFile)
		return secret.New(t), err
	case *f.token != "":
		fmt.Fprintln(e.stderr, "warning: --token is visible to every user of this machine (ps, shell history); prefer --token-file or SECLYTICS_ACCESS_TOKEN")
		return secret.New(*f.token), nil
	}
	return secret.New(e.getenv("SECLYTICS_ACCESS_TOKEN")), nil
}

func parseTimeFlag(name, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	if t, ok := prediction.ParseDate([]byte(v)); ok {
		u := time.Unix(t, 0).UTC()
		return &u, nil
	}
	return nil, &ExitError{Code: 2, Err: fmt.Errorf("--%s %q is not a date: use 2006-01-02 or 2006-01-02T15:04:05Z", name, v)}
}

func cmdRun(ctx context.Context, e *env, args []string) error {
	f := newRunFlags(e)
	pos, err := parse(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = []string{feed.Name}
	}
	if len(pos) != 1 {
		f.fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("name one feed to run: forewarn run FEED (forewarn feeds lists them)")}
	}
	if pos[0] != feed.Name {
		return runListFeed(ctx, e, f, pos[0])
	}
	log, err := logger(e, *f.logLevel, *f.logFormat)
	if err != nil {
		return err
	}
	since, err := parseTimeFlag("since", *f.since)
	if err != nil {
		return err
	}
	until, err := parseTimeFlag("until", *f.until)
	if err != nil {
		return err
	}
	if since != nil && until != nil && !since.Before(*until) {
		return &ExitError{Code: 2, Err: fmt.Errorf("--since %s is not before --until %s", since.Format(time.RFC3339), until.Format(time.RFC3339))}
	}
	tok, err := f.tokenFrom(e)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *f.db)
	if err != nil {
		return err
	}
	defer st.Close()

	stopProfile, err := startCPUProfile(*f.cpuProf)
	if err != nil {
		return err
	}
	defer stopProfile()
	prog := &feed.Progress{}
	bar := progress.Start(e.stderr, prog, 200*time.Millisecond)
	r, runErr := feed.Run(ctx, st, feed.Options{
		Trigger: activity.TriggerCLI, Override: f.apply, Token: tok, Since: since, Until: until,
		DryRun: *f.dryRun, StageDir: *f.stageDir, Progress: prog, Logger: log,
	})
	bar.Stop()
	if r != nil {
		fmt.Fprint(e.stdout, r.Summary())
	}
	if runErr != nil {
		if errors.Is(runErr, feed.ErrConfig) {
			return &ExitError{Code: 2, Err: runErr}
		}
		return runErr
	}
	return nil
}

// startCPUProfile writes a CPU profile to path until the returned stop is
// called (--cpuprofile); with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}
