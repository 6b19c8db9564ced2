package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"forewarn/internal/config"
	"forewarn/internal/feed"
	"forewarn/internal/secret"
	"forewarn/internal/store"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, " ") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func cmdConfig(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && args[0] != feed.Name {
		return configListFeed(ctx, e, args)
	}
	fs := newFlags(e, "config", "config seclytics [--db FILE] [--set key=value ...] [--token-file FILE] [--clear-token]")
	db := dbFlag(e, fs)
	var sets multi
	fs.Var(&sets, "set", "set a parameter, key=value (repeatable); keys: "+strings.Join(config.Keys, ", "))
	tokenFile := fs.String("token-file", "", "store the access token read from this file")
	clearToken := fs.Bool("clear-token", false, "remove the stored access token")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && pos[0] != feed.Name {
		return configListFeed(ctx, e, args)
	}
	if len(pos) != 1 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("name the feed: forewarn config seclytics, or forewarn config FEED (forewarn feeds lists them)")}
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	change := len(sets) > 0 || *tokenFile != "" || *clearToken
	cfg, state, err := st.FeedConfig(ctx, feed.Name)
	if err != nil {
		if cfg, err = repairable(e, cfg, err, sets); err != nil {
			return err
		}
		state.Installed = true
	}
	prev := cfg
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return &ExitError{Code: 2, Err: fmt.Errorf("--set %q: use key=value", kv)}
		}
		if err := cfg.Set(k, v); err != nil {
			return &ExitError{Code: 2, Err: err}
		}
	}
	switch {
	case *clearToken:
		cfg.Token = secret.String{}
	case *tokenFile != "":
		t, err := readTokenFile(*tokenFile)
		if err != nil {
			return err
		}
		cfg.Token = secret.New(t)
	}
	if change {
		svc, actor := operations(e, st)
		if cfg, err = svc.ConfigureFeed(ctx, actor, feed.Name, cfg, *tokenFile != ""); err != nil {
			return usageError(fs, err)
		}
		if prev.Token.IsSet() && !cfg.Token.IsSet() && !*clearToken {
			fmt.Fprintln(e.stdout, "the base URL's origin changed, so the stored access token was removed: store the new one with --token-file FILE")
		}
		state.Installed = true
		fmt.Fprintln(e.stdout, "saved")
	}
	printConfig(e, &cfg, state)
	return nil
}

// repairable lets config --set base_url=… repair a stored configuration
// whose base_url this version refuses (an older one accepted plain http
// beyond loopback): otherwise nothing could read the configuration to fix
// it. Its token is not read, since it would go to the new origin: store it
// again with --token-file.
func repairable(e *env, cfg config.Seclytics, err error, sets []string) (config.Seclytics, error) {
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Field != "base_url" || !slices.ContainsFunc(sets, func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.EqualFold(strings.TrimSpace(k), "base_url")
	}) {
		return cfg, err
	}
	fmt.Fprintf(e.stderr, "the stored base_url is refused (%s); replacing it. Store the access token again with --token-file FILE.\n", fe.Msg)
	cfg.Token = secret.String{}
	return cfg, nil
}

func printConfig(e *env, c *config.Seclytics, state store.FeedState) {
	tok := "not configured"
	if c.Token.IsSet() {
		tok = "configured"
	}
	stored := "stored"
	if !state.Installed {
		stored = "defaults; nothing stored yet"
	}
	enabled := "disabled"
	if state.Enabled {
		enabled = "enabled"
	}
	w := e.stdout
	fmt.Fprintf(w, "seclytics (%s, %s)\n", stored, enabled)
	fmt.Fprintf(w, "  %-17s %s\n", "access token", tok)
	fmt.Fprintf(w, "  %-17s %s\n", "dataset", c.Dataset)
	fmt.Fprintf(w, "  %-17s %v\n", "threshold", c.Threshold)
	fmt.Fprintf(w, "  %-17s %v\n", "normalize", c.Normalize)
	fmt.Fprintf(w, "  %-17s %v\n", "filter_by_date", c.FilterByDate)
	cats := strings.Join(c.Categories, ", ")
	if cats == "" {
		cats = "(all)"
	}
	fmt.Fprintf(w, "  %-17s %s\n", "categories", cats)
	fmt.Fprintf(w, "  %-17s %s\n", "context", strings.Join(c.Context, ", "))
	fmt.Fprintf(w, "  %-17s %s\n", "overlap", c.Overlap)
	fmt.Fprintf(w, "  %-17s %s\n", "age_out", c.AgeOut)
	fmt.Fprintf(w, "  %-17s %v\n", "allowlist_special_ranges", c.AllowlistSpecialRanges)
	fmt.Fprintf(w, "  %-17s %s\n", "base_url", c.BaseURL)
	fmt.Fprintf(w, "  %-17s %d\n", "tries", c.Tries)
	fmt.Fprintf(w, "  %-17s %s\n", "connect_timeout", c.ConnectTimeout)
	fmt.Fprintf(w, "  %-17s %s\n", "idle_timeout", c.IdleTimeout)
	fmt.Fprintf(w, "  %-17s %s\n", "max_compressed", c.MaxCompressed)
	fmt.Fprintf(w, "  %-17s %s\n", "max_decompressed", c.MaxDecompressed)
	fmt.Fprintf(w, "  %-17s %s\n", "max_line", c.MaxLine)
	fmt.Fprintf(w, "  %-17s %s\n", "max_netblock", c.MaxNetblock)
}
