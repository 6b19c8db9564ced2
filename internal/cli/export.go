package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"forewarn/internal/export"
	"forewarn/internal/indicator"
)

func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "export --format F [--db FILE] [--status S,...] [--min-importance N] [--categories a,b] "+
		"[--sources s] [--feed ID] [--min-sources N] [--min-confidence N] [--updated-since T] [--max N] [--rank importance|confidence|recency] [--aggregate] [--netblocks] [--tlp T] [--misp-attribute ip-dst|ip-src] [-o FILE | --dir DIR]")
	db := dbFlag(e, fs)
	format := fs.String("format", "jsonl", "output format: "+export.FormatNames())
	out := fs.String("o", "-", "output file (- for standard output); suricata-iprep also writes categories.txt beside it")
	dir := fs.String("dir", "", "misp-feed: the directory to write the feed into (manifest.json, hashes.csv, one event per feed)")
	cpuProf := fs.String("cpuprofile", "", "write a CPU profile of the export to this file (for developers)")
	var o export.Options
	statuses := exportFlags(fs, &o)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	f, err := export.ParseFormat(*format)
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if o.Statuses, err = parseStatuses(*statuses); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if *statuses == "" && f == export.JSONL {
		// JSON Lines has always been the whole store, the form stores are
		// compared and backed up in; keep it so. A budget of it would
		// rank every status by reading the whole store: refused, as an
		// output profile's is, unless --status asks for it.
		o.Statuses = export.AllStatuses
		if err := export.CheckBudgetStatuses(o.Max, o.Statuses); err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("--max with jsonl, which exports every status unless told: %w, and ranking the others would read the whole store: add --status active", err)}
		}
	}
	if err := o.Validate(f); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if f.Directory() != (*dir != "") {
		return &ExitError{Code: 2, Err: errors.New("--dir DIR goes with --format misp-feed, and misp-feed needs it (a MISP feed is a directory of files)")}
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	stopProfile, err := startCPUProfile(*cpuProf)
	if err != nil {
		return err
	}
	defer stopProfile()
	if f.Directory() {
		n, err := export.WriteMISPFeed(ctx, *dir, st, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "exported %d indicators to the MISP feed in %s\n", n, *dir)
		return nil
	}
	if *out == "-" {
		_, err := export.WriteCount(ctx, e.stdout, st, f, o)
		return err
	}
	var n int64
	err = writeFileAtomic(*out, func(w io.Writer) error {
		var err error
		n, err = export.WriteCount(ctx, w, st, f, o)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "exported %d indicators to %s\n", n, *out)
	if f == export.SuricataIPRep {
		cats := filepath.Join(filepath.Dir(*out), "categories.txt")
		if err := writeFileAtomic(cats, export.WriteSuricataCategories); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "wrote the Suricata categories to %s\n", cats)
	}
	return nil
}

// exportFlags defines the filter and format flags of export on fs, into
// o; it returns --status, which needs the format to be read.
func exportFlags(fs *flag.FlagSet, o *export.Options) *string {
	statuses := fs.String("status", "", "statuses to export, comma-separated, or all (default: all for jsonl, the whole store as before; Active for the others;\nblocklist formats never list Whitelisted)")
	fs.Func("min-importance", "keep indicators with at least this importance (0-100)", func(s string) error {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New("give a number from 0 to 100")
		}
		o.MinImportance = &v
		return nil
	})
	fs.Func("categories", "keep indicators with one of these detected categories, comma-separated", func(s string) error {
		o.Categories = splitList(s)
		return nil
	})
	fs.Func("sources", "keep indicators from one of these sources, comma-separated (Seclytics)", func(s string) error {
		o.Sources = splitList(s)
		return nil
	})
	fs.StringVar(&o.Feed, "feed", "", "keep indicators this feed lists now (its id, e.g. spamhaus-drop; seclytics for Seclytics)")
	fs.IntVar(&o.MinSources, "min-sources", 0, "keep indicators at least this many feeds list now")
	fs.Func("min-confidence", "keep indicators whose combined confidence is at least this (0-100)", func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || v > 100 {
			return errors.New("give a whole number from 0 to 100")
		}
		o.MinConfidence = &v
		return nil
	})
	fs.Func("updated-since", "keep indicators updated at or after this time (RFC 3339, or YYYY-MM-DD in UTC)", func(s string) error {
		t, err := parseSince(s)
		o.UpdatedSince = t
		return err
	})
	fs.IntVar(&o.Max, "max", 0, "keep only the N best indicators by --rank (0: all), ties by address, written in address order")
	fs.StringVar(&o.Rank, "rank", "", "what --max ranks by: importance (default), confidence (combined confidence) or recency (latest change)")
	fs.BoolVar(&o.Aggregate, "aggregate", false, "edl: collapse to the minimal set of CIDRs")
	fs.BoolVar(&o.Netblocks, "netblocks", false, "edl: write the distinct predicted netblocks instead of addresses")
	fs.StringVar(&o.TLP, "tlp", "", "ecs, misp-feed: the TLP marking: "+strings.Join(export.TLPs, ", ")+" (default amber)")
	fs.StringVar(&o.MISPAttribute, "misp-attribute", "", "misp-feed: the attribute type of each address, ip-dst (default) or ip-src")
	return statuses
}

// writeFileAtomic writes path through a temporary file renamed into place,
// so a failed export never leaves a half-written file where a consumer
// expects a whole one.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(dirOf(path), ".forewarn-export-*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	err = write(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parseStatuses reads --status: statuses by name (any case), or all.
func parseStatuses(s string) ([]indicator.Status, error) {
	var out []indicator.Status
	for _, v := range splitList(s) {
		if strings.EqualFold(v, "all") {
			return export.AllStatuses, nil
		}
		found := false
		for _, st := range export.AllStatuses {
			if strings.EqualFold(v, string(st)) {
				out = append(out, st)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--status %q: use Active, Expired, Whitelisted, Review or all, comma-separated", v)
		}
	}
	return out, nil
}

func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("give an RFC 3339 time (2026-05-01T00:00:00Z) or a date (2026-05-01)")
}
