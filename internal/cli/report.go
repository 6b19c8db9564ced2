package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"forewarn/internal/service"
	"forewarn/internal/store"
)

func cmdReport(ctx context.Context, e *env, args []string) error {
	usage := func() {
		fmt.Fprintln(e.stderr, `Usage: forewarn report REPORT [flags]

Reports:
  lead-time [--feed ID] [--since DATE] [--format table|json|csv]
      how many days before a public list (a list feed) confirmed an address
      Seclytics predicted it, overall, per predicted category and per feed;
      apart, predicted netblocks confirmed through another address in them

Run forewarn report REPORT -h for its flags.`)
	}
	if len(args) == 0 {
		usage()
		return &ExitError{Code: 2, Err: errors.New("name a report: lead-time")}
	}
	switch args[0] {
	case "lead-time":
		return reportLeadTime(ctx, e, args[1:])
	case "-h", "--help", "help":
		usage()
		return nil
	}
	usage()
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown report %q: use lead-time", args[0])}
}

func reportLeadTime(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "report lead-time", "report lead-time [--feed ID] [--since DATE] [--format table|json|csv] [--db FILE]")
	db := dbFlag(e, fs)
	feedID := fs.String("feed", "", "count only this list feed's listings as confirmations (default: any list feed)")
	since := fs.String("since", "", "count only predictions made since this date (2026-01-31) or RFC 3339 time")
	format := fs.String("format", "table", "table, json or csv")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("report lead-time takes no arguments, not %q", pos[0])}
	}
	if *format != "table" && *format != "json" && *format != "csv" {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("--format %q: use table, json or csv", *format)}
	}
	st, err := openExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, _ := operations(e, st)
	rep, err := svc.LeadTimes(ctx, service.LeadTimeRequest{Feed: *feedID, Since: *since})
	if err != nil {
		return usageError(fs, err)
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		return leadTimeCSV(e.stdout, rep)
	}
	return leadTimeTable(e.stdout, rep)
}

// leadRow is one row of the report: its group (all, category or feed),
// the category's or feed's name, and its figures.
type leadRow struct {
	group, name string
	f           store.LeadTimeFigures
}

// leadTimeRows are the report's rows: the overall one, then each
// category, then each feed, then the predicted netblocks (kept apart).
func leadTimeRows(rep store.LeadTimeReport) []leadRow {
	rows := []leadRow{{"all", "", rep.LeadTimeFigures}}
	for _, g := range rep.ByCategory {
		rows = append(rows, leadRow{"category", g.Name, g.LeadTimeFigures})
	}
	for _, g := range rep.ByFeed {
		rows = append(rows, leadRow{"feed", g.Name, g.LeadTimeFigures})
	}
	return append(rows, leadRow{"netblock", "", rep.Netblock})
}

func days(d *int64) string {
	if d == nil {
		return ""
	}
	return strconv.FormatInt(*d, 10)
}

func leadTimeCSV(w io.Writer, rep store.LeadTimeReport) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"group", "name", "predicted", "confirmed", "confirmed_within_30_days", "confirmed_within_90_days",
		"confirmed_within_365_days", "confirmed_before_prediction", "confirmed_before_prediction_share", "median_days", "p90_days"})
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, r := range leadTimeRows(rep) {
		f := r.f
		cw.Write([]string{r.group, r.name, i(f.Predicted), i(f.Confirmed), i(f.Within30), i(f.Within90), i(f.Within365),
			i(f.ConfirmedBefore), strconv.FormatFloat(f.BeforeShare, 'f', 4, 64), days(f.MedianDays), days(f.P90Days)})
	}
	cw.Flush()
	return cw.Error()
}

func leadTimeTable(w io.Writer, rep store.LeadTimeReport) error {
	fmt.Fprintln(w, "Lead time of Seclytics' predictions: days from Predicted At to the first listing by a list feed.")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tPREDICTED\tCONFIRMED\t≤30 DAYS\t≤90 DAYS\t≤365 DAYS\tBEFORE PREDICTION\tMEDIAN DAYS\tP90 DAYS\t")
	pct := func(n, of int64) string {
		if of == 0 {
			return strconv.FormatInt(n, 10)
		}
		return fmt.Sprintf("%d (%.0f%%)", n, 100*float64(n)/float64(of))
	}
	for _, r := range leadTimeRows(rep) {
		f, name := r.f, r.group
		if r.name != "" {
			name += " " + r.name
		}
		med, p90 := days(f.MedianDays), days(f.P90Days)
		if med == "" {
			med, p90 = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%s\t%s\t%s\t\n", name, f.Predicted, pct(f.Confirmed, f.Predicted),
			f.Within30, f.Within90, f.Within365, pct(f.ConfirmedBefore, f.Confirmed), med, p90)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "Before prediction: listed before Seclytics predicted it (share of the confirmed). Feeds count their own listings.\n"+
		"Netblock, apart from the rest: predictions naming a netblock, confirmed by a listing of another address in it.")
	return err
}
