package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/prediction"
	"forewarn/internal/store"
	"forewarn/internal/view"
)

func cmdLookup(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "lookup", "lookup [--db FILE] [--json] IP...")
	db := dbFlag(e, fs)
	asJSON := fs.Bool("json", false, "print JSON, one result per line")
	ips, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(ips) == 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("give at least one IP address")}
	}
	// Parse first: the index is built for these addresses only.
	addrs := make([]netip.Addr, len(ips))
	for i, ip := range ips {
		if a, ok := prediction.ParseIP([]byte(strings.TrimSpace(ip))); ok {
			addrs[i] = a
		}
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	// One snapshot for the index and every lookup, so that a run
	// committing meanwhile cannot pair an indicator with netblock
	// summaries of another state of the store.
	snap, err := st.Snapshot(ctx)
	if err != nil {
		return err
	}
	defer snap.Close()
	// Reading every netblock member would cost more than a few lookups:
	// index only the netblocks that can contain the addresses asked.
	svc := lookup.NewService(lookup.Scoped(snap, addrs))
	if err := svc.Rebuild(ctx); err != nil {
		return err
	}
	known := 0
	for i, ip := range ips {
		if !addrs[i].IsValid() {
			// Standard output stays one JSON result per line.
			w := e.stdout
			if *asJSON {
				w = e.stderr
			}
			fmt.Fprintf(w, "%s: not a valid IP address\n", ip)
			continue
		}
		r, err := svc.Lookup(ctx, addrs[i])
		if err != nil {
			return err
		}
		if r.Verdict != lookup.VerdictUnknown {
			known++
		}
		if *asJSON {
			b, err := json.Marshal(view.LookupOf(&r))
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, string(b))
			continue
		}
		printResult(e.stdout, &r)
	}
	if known == 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// printResult prints a lookup's verdict, then the indicator if listed and
// the netblocks that contain the address, most specific first.
func printResult(w io.Writer, r *lookup.Result) {
	fmt.Fprintf(w, "%s: %s\n", r.IP, r.Verdict)
	if r.Matched.IsValid() {
		fmt.Fprintf(w, "  matched %s\n", r.Matched)
	}
	if r.Indicator != nil {
		printIndicator(w, r.Indicator)
	}
	for _, nb := range r.Netblocks {
		parts := []string{fmt.Sprintf("%d listed", nb.Listed)}
		if nb.MaxImportance != nil {
			parts = append(parts, "max importance "+prediction.FormatImportance(*nb.MaxImportance))
		}
		if len(nb.Categories) > 0 {
			parts = append(parts, "categories "+strings.Join(nb.Categories, ", "))
		}
		line := strings.Join(parts, ", ")
		if len(nb.Clusters) > 0 {
			line += "; clusters " + strings.Join(nb.Clusters, ", ")
		}
		fmt.Fprintf(w, "  in %s: %s\n", nb.Netblock, line)
	}
}

func printIndicator(w io.Writer, ind *indicator.Indicator) {
	fmt.Fprintf(w, "%s  %s  %s  sources: %s  created %s  updated %s\n", ind.Value(), ind.Type, ind.Status,
		strings.Join(ind.Sources, ", "), ind.CreatedAt.Format(time.RFC3339), ind.UpdatedAt.Format(time.RFC3339))
	if ind.Confidence != nil {
		fmt.Fprintf(w, "  confidence %d\n", *ind.Confidence)
	}
	for _, f := range ind.Feeds {
		state := "listed"
		if !f.Listed {
			state = "delisted"
		}
		fmt.Fprintf(w, "  feed %-22s %s (%s)\n", f.Feed, state, f.Source)
	}
	if sg := ind.Sightings; sg != nil {
		fmt.Fprintf(w, "  sighted in your logs %d times, first %s, last %s\n", sg.Count, sg.First.Format(time.RFC3339), sg.Last.Format(time.RFC3339))
	}
	for _, a := range ind.Attributes {
		a.Value.Texts(func(v string) {
			fmt.Fprintf(w, "  %-22s %-42s (%s, updated %s)\n", a.Name, v, a.Source, a.UpdatedAt.Format(time.RFC3339))
		})
	}
}

// openExisting opens a store that must already exist, so that a typo in
// --db does not silently create an empty database.
func openExisting(ctx context.Context, path string) (*store.Store, error) {
	if store.IsPostgres(path) {
		return store.Open(ctx, path)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no store at %s: run forewarn run seclytics (or forewarn demo) first, or point --db / FOREWARN_DB at your store", path)
	}
	return store.Open(ctx, path)
}

func cmdRuns(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "runs", "runs [--db FILE] [--limit N] [--json]")
	db := dbFlag(e, fs)
	limit := fs.Int("limit", 20, "how many runs to show")
	asJSON := fs.Bool("json", false, "print JSON, one run per line")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	runs, err := st.Runs(ctx, "", *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		for _, r := range runs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	if len(runs) == 0 {
		fmt.Fprintln(e.stdout, "no runs yet")
		return nil
	}
	fmt.Fprintf(e.stdout, "%-5s %-10s %-9s %-8s %-20s %10s %10s %9s %9s %9s %9s %9s  %s\n",
		"ID", "FEED", "STATUS", "TRIGGER", "STARTED", "DURATION", "ROWS", "DROPPED", "ALLOWED", "CREATED", "UPDATED", "EXPIRED", "ERROR")
	for _, r := range runs {
		status := string(r.Status)
		if r.DryRun {
			status += "*"
		}
		fmt.Fprintf(e.stdout, "%-5d %-10s %-9s %-8s %-20s %10s %10d %9d %9d %9d %9d %9d  %s\n",
			r.ID, r.Feed, status, r.Trigger, r.StartedAt.Format(time.RFC3339), r.Duration().Round(time.Millisecond),
			r.RowsRead, r.Dropped.Total(), r.RowsAllowlisted, r.IndicatorsCreated, r.IndicatorsUpdated, r.IndicatorsExpired,
			firstLine(r.Error))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
