package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/feed"
	"forewarn/internal/feeddef"
	"forewarn/internal/secret"
	"forewarn/internal/service"
	"forewarn/internal/store"
)

// cmdFeeds lists every feed: id, title, enabled, schedule, last run,
// indicators listed now.
func cmdFeeds(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feeds", "feeds [--db FILE]")
	db := dbFlag(e, fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("feeds takes no arguments, not %q", pos[0])}
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, _ := operations(e, st)
	feeds, err := svc.ListFeeds(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tENABLED\tSCHEDULE\tLAST RUN\tINDICATORS")
	for _, f := range feeds {
		enabled := "no"
		if f.Enabled {
			enabled = "yes"
		}
		title := f.Definition.Title
		if !f.Builtin {
			title += " (custom)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", f.Definition.ID, title, enabled, orDash(f.Schedule), lastRun(f.LastRun), f.Indicators)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func lastRun(r *activity.Run) string {
	if r == nil {
		return "never"
	}
	return r.StartedAt.UTC().Format(time.RFC3339) + " " + string(r.Status)
}

// runListFeed runs a list feed in the foreground: forewarn run ID. Of the
// run flags only --db, --base-url, --stage-dir, --cpuprofile and the log
// flags apply.
func runListFeed(ctx context.Context, e *env, f *runFlags, id string) error {
	var seclyticsOnly []string
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "db", "base-url", "stage-dir", "cpuprofile", "log-level", "log-format":
		default:
			seclyticsOnly = append(seclyticsOnly, "--"+fl.Name)
		}
	})
	if len(seclyticsOnly) > 0 {
		f.fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("%s only apply to forewarn run %s: set feed %s's parameters with forewarn config %s --set", strings.Join(seclyticsOnly, ", "), feed.Name, id, id)}
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
	svc, actor := operations(e, st)
	r, runErr := svc.RunListFeed(ctx, actor, id, service.ListRunOptions{Trigger: activity.TriggerCLI,
		BaseURL: f.fs.Lookup("base-url").Value.String(), TempDir: *f.stageDir})
	if r != nil {
		fmt.Fprint(e.stdout, r.Summary())
		if r.IndicatorsDelisted > 0 {
			fmt.Fprintf(e.stdout, "  delisted     %d indicators no longer listed\n", r.IndicatorsDelisted)
		}
	}
	if runErr != nil {
		return usageError(f.fs, runErr)
	}
	return nil
}

// configListFeed shows or changes a list feed's configuration:
// forewarn config ID [--set k=v ...] [--token-file F] [--clear-token]
// [--enable|--disable].
func configListFeed(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "config", "config FEED [--db FILE] [--set key=value ...] [--token-file FILE] [--clear-token] [--enable|--disable]")
	db := dbFlag(e, fs)
	var sets multi
	fs.Var(&sets, "set", "set a parameter, key=value (repeatable; an empty value restores the default); also base_url and schedule")
	tokenFile := fs.String("token-file", "", "store the feed's secret (token or password) read from this file")
	clearToken := fs.Bool("clear-token", false, "remove the stored secret")
	enable := fs.Bool("enable", false, "run the feed on its schedule under forewarn serve")
	disable := fs.Bool("disable", false, "stop running the feed on its schedule")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (*enable && *disable) {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("name one feed: forewarn config FEED (forewarn feeds lists them), with at most one of --enable and --disable")}
	}
	id := pos[0]
	ch, err := listChange(sets, *tokenFile, *clearToken)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	d, _, err := svc.Definition(ctx, id)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if len(sets) > 0 || *tokenFile != "" || *clearToken {
		if _, err := svc.ConfigureListFeed(ctx, actor, id, ch); err != nil {
			return usageError(fs, err)
		}
		fmt.Fprintln(e.stdout, "saved")
	}
	if *enable || *disable {
		if err := svc.SetFeedEnabled(ctx, actor, id, *enable); err != nil {
			return err
		}
	}
	cfg, enabled, err := st.ListFeedConfig(ctx, id)
	if err != nil {
		return err
	}
	printListConfig(e.stdout, d.ID, d.Title, enabled, cfg, d.Parameters)
	return nil
}

// listChange reads the --set, --token-file and --clear-token flags.
func listChange(sets []string, tokenFile string, clearToken bool) (service.ListFeedChange, error) {
	ch := service.ListFeedChange{Set: map[string]string{}, ClearToken: clearToken}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return ch, &ExitError{Code: 2, Err: fmt.Errorf("--set %q: use key=value", kv)}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "base_url":
			ch.BaseURL = &v
		case "schedule":
			ch.Schedule = &v
		default:
			ch.Set[k] = v
		}
	}
	if tokenFile != "" {
		t, err := readTokenFile(tokenFile)
		if err != nil {
			return ch, err
		}
		ch.Token, ch.TokenGiven = secret.New(t), true
	}
	return ch, nil
}

func printListConfig(w io.Writer, id, title string, enabled bool, cfg store.ListFeedConfig, params []feeddef.Parameter) {
	state := "disabled"
	if enabled {
		state = "enabled"
	}
	fmt.Fprintf(w, "%s: %s (%s)\n", id, title, state)
	tok := "not configured"
	if cfg.Token.IsSet() {
		tok = "configured"
	}
	fmt.Fprintf(w, "  %-17s %s\n", "secret", tok)
	fmt.Fprintf(w, "  %-17s %s\n", "base_url", orDefault(cfg.BaseURL))
	fmt.Fprintf(w, "  %-17s %s\n", "schedule", orDefault(cfg.Schedule))
	for _, p := range params {
		v, ok := cfg.Settings[p.Name]
		if !ok {
			v = fmt.Sprintf("%v (default)", p.Default)
		}
		fmt.Fprintf(w, "  %-17s %s\n", p.Name, v)
	}
}

func orDefault(s string) string {
	if s == "" {
		return "(the definition's)"
	}
	return s
}

// cmdFeedAdd stores a custom definition: forewarn feed add FILE.
func cmdFeedAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feed add", "feed add [--db FILE] FILE")
	db := dbFlag(e, fs)
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("feed add needs one definition file")}
	}
	src, err := readDefinitionFile(files[0])
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	d, err := svc.AddDefinition(ctx, actor, src)
	var ve *service.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Fprintf(e.stderr, "%s:%s\n", files[0], f.Msg)
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("%s is not a valid feed definition: nothing stored", files[0])}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "added feed %s (%s): configure it with forewarn config %s, run it with forewarn run %s\n", d.ID, d.Title, d.ID, d.ID)
	return nil
}

func readDefinitionFile(path string) ([]byte, error) {
	b, err := readAtMost(path, store.MaxFeedDefinition)
	if err != nil {
		return nil, fmt.Errorf("read feed definition: %w", err)
	}
	if len(b) > store.MaxFeedDefinition {
		return nil, fmt.Errorf("feed definition %s is over %d bytes: is it the right file?", path, store.MaxFeedDefinition)
	}
	return b, nil
}

// cmdFeedRemove removes a custom definition: forewarn feed rm ID.
func cmdFeedRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "feed rm", "feed rm [--db FILE] ID")
	db := dbFlag(e, fs)
	ids, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("feed rm needs one feed id")}
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, actor := operations(e, st)
	if err := svc.RemoveDefinition(ctx, actor, ids[0]); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "removed feed %s; its activity log and indicators stay\n", ids[0])
	return nil
}
