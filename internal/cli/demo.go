package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"forewarn/internal/activity"
	"forewarn/internal/config"
	"forewarn/internal/fakeseclytics"
	"forewarn/internal/feed"
	"forewarn/internal/indicator"
	"forewarn/internal/progress"
	"forewarn/internal/secret"
	"forewarn/internal/store"
)

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "demo [--db ./forewarn-demo.db] [--rows N]")
	db := fs.String("db", "forewarn-demo.db", "SQLite database file for the demo")
	rows := fs.Int("rows", 200000, "rows in the demo dump")
	seed := fs.Int64("seed", 1, "generator seed")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// A random token: the demo checks that forewarn sends one, and shows
	// that it is never printed.
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	token := "demo-" + hex.EncodeToString(raw)

	fmt.Fprintf(e.stdout, "Generating a %d-row Seclytics dump and serving it on loopback...\n", *rows)
	srv, err := fakeseclytics.New(ctx, fakeseclytics.Options{Rows: *rows, Seed: *seed, Token: token})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: listen on loopback: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "Built-in Seclytics server: %s\n\n", base)

	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	prog := &feed.Progress{}
	bar := progress.Start(e.stderr, prog, 200*time.Millisecond)
	r, runErr := feed.Run(ctx, st, feed.Options{
		Trigger: activity.TriggerCLI, Token: secret.New(token), Progress: prog,
		Override: func(c *config.Seclytics) error { return c.Set("base_url", base) },
	})
	bar.Stop()
	if r != nil {
		fmt.Fprint(e.stdout, r.Summary())
	}
	if runErr != nil {
		return runErr
	}
	if r.Status == activity.StatusUnchanged {
		fmt.Fprintf(e.stdout, "\nThe dump has not changed since the last demo run, so nothing was ingested (delete %s to start over).\n", *db)
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nThe store %s holds %d indicators.\n", *db, stats.Indicators)

	// A few lookups: the first indicators in address order, and one
	// address the feed never predicted.
	fmt.Fprintln(e.stdout, "\nA few lookups (forewarn lookup --db "+*db+" IP):")
	shown := 0
	err = st.EachIndicator(ctx, func(ind *indicator.Indicator) error {
		if shown == 3 {
			return errStop
		}
		fmt.Fprintln(e.stdout)
		printIndicator(e.stdout, ind)
		shown++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	// 192.0.2.1 is a documentation address: no feed predicts it.
	absent := netip.MustParseAddr("192.0.2.1")
	if _, err := st.Lookup(ctx, absent); errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(e.stdout, "\n%s: not found\n", absent)
	} else if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\nNext: forewarn runs --db "+*db+"\n      forewarn export --db "+*db+" --format jsonl")
	return nil
}

var errStop = errors.New("stop")
