package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"forewarn/internal/indicator"
	"forewarn/internal/lookup"
	"forewarn/internal/prediction"
	"forewarn/internal/retrohunt"
	"forewarn/internal/service"
)

type matchFlags struct {
	db, input, column, format *string
	maxLine                   *int
	record                    *bool
	cpuProf                   *string
}

func cmdMatch(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "match", "match [--db FILE] [--input zeek|eve|combined|csv|text] [--column NAME] [--format table|json] [--record] [FILE...]\n\n"+
		"Reads each FILE (plain or gzip; standard input when none, or for -) and prints every address the store\n"+
		"knows, then a summary. Exit 1 when nothing was hit.")
	f := matchFlags{
		db:      dbFlag(e, fs),
		input:   fs.String("input", "", "log format: zeek, eve, combined, csv or text (default: detected from the first lines)"),
		column:  fs.String("column", "", "CSV column holding the address (default: every column holding one)"),
		format:  fs.String("format", "table", "output: table or json (one object per hit, then one with the summary)"),
		maxLine: fs.Int("max-line", 0, "longest line in bytes (default 1 MiB)"),
		record:  fs.Bool("record", false, "store a sighting of every listed indicator hit (count, first and last; extends its expiry by sighting_extends)"),
		cpuProf: fs.String("cpuprofile", "", "write a CPU profile of the match to this file (for developers)"),
	}
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *f.format != "table" && *f.format != "json" {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("--format %q: use table or json", *f.format)}
	}
	inputs, closeAll, err := openInputs(e, files)
	if err != nil {
		return err
	}
	defer closeAll()
	st, err := openExisting(ctx, *f.db)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := retrohunt.NewStoreResolver(ctx, st)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(*f.cpuProf)
	if err != nil {
		return err
	}
	defer stopProfile()
	svc, actor := operations(e, st)
	w := bufio.NewWriterSize(e.stdout, 64<<10)
	defer w.Flush()
	out := newHitWriter(w, *f.format == "json")
	sum, err := svc.Match(ctx, actor, res, inputs, service.MatchOptions{Input: *f.input, Column: *f.column, MaxLine: *f.maxLine, Record: *f.record}, out.hit)
	if err != nil {
		return usageError(fs, err)
	}
	if err := out.summary(&sum); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if sum.Hits == 0 {
		return &ExitError{Code: 1}
	}
	return nil
}

// openInputs opens the files named, standard input for none or "-".
func openInputs(e *env, files []string) ([]service.MatchInput, func(), error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	var (
		inputs []service.MatchInput
		open   []*os.File
	)
	closeAll := func() {
		for _, f := range open {
			f.Close()
		}
	}
	for _, name := range files {
		if name == "-" {
			inputs = append(inputs, service.MatchInput{Name: "stdin", R: e.stdin})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open log: %w", err)
		}
		open = append(open, f)
		inputs = append(inputs, service.MatchInput{Name: name, R: f})
	}
	return inputs, closeAll, nil
}

// hitWriter prints hits as a table or as JSON lines.
type hitWriter struct {
	w      io.Writer
	json   bool
	header bool
	enc    *json.Encoder
}

func newHitWriter(w io.Writer, asJSON bool) *hitWriter {
	return &hitWriter{w: w, json: asJSON, enc: json.NewEncoder(w)}
}

// hitLine is the JSON of one hit.
type hitLine struct {
	Time        *time.Time `json:"time"`
	Line        int64      `json:"line"`
	Address     string     `json:"address"`
	Field       string     `json:"field"`
	Verdict     string     `json:"verdict"`
	Feeds       []string   `json:"feeds"`
	Importance  *float64   `json:"importance"`
	PredictedAt *time.Time `json:"predicted_at"`
	DaysAfter   *int       `json:"days_after_prediction,omitempty"`
	Netblock    string     `json:"netblock,omitempty"`
}

func (o *hitWriter) hit(h *retrohunt.Hit) error {
	if o.json {
		l := hitLine{Line: h.Line, Address: h.Addr.String(), Field: h.Field, Verdict: h.Verdict, Feeds: h.Feeds}
		if l.Feeds == nil {
			l.Feeds = []string{}
		}
		if !h.Time.IsZero() {
			l.Time = &h.Time
		}
		if h.HasImportance {
			l.Importance = &h.Importance
		}
		if !h.PredictedAt.IsZero() {
			l.PredictedAt = &h.PredictedAt
		}
		if d, ok := h.DaysAfterPrediction(); ok {
			l.DaysAfter = &d
		}
		if h.Netblock.IsValid() {
			l.Netblock = h.Netblock.String()
		}
		return o.enc.Encode(l)
	}
	if !o.header {
		o.header = true
		fmt.Fprintf(o.w, "%-20s %-39s %-12s %-21s %-10s %10s %-20s %s\n",
			"TIME", "ADDRESS", "FIELD", "VERDICT", "FEEDS", "IMPORTANCE", "PREDICTED AT", "DAYS AFTER")
	}
	ts, imp, pred, days := "-", "-", "-", "-"
	if !h.Time.IsZero() {
		ts = h.Time.Format(indicator.TimeFormat)
	}
	if h.HasImportance {
		imp = prediction.FormatImportance(h.Importance)
	}
	if !h.PredictedAt.IsZero() {
		pred = h.PredictedAt.Format(indicator.TimeFormat)
	}
	if d, ok := h.DaysAfterPrediction(); ok {
		days = fmt.Sprint(d)
	}
	_, err := fmt.Fprintf(o.w, "%-20s %-39s %-12s %-21s %-10s %10s %-20s %s\n",
		ts, h.Addr, h.Field, h.Verdict, strings.Join(h.Feeds, ","), imp, pred, days)
	return err
}

// summaryLine is the JSON of the summary, the last line of --format json.
type summaryLine struct {
	Summary *retrohunt.Summary `json:"summary"`
}

func (o *hitWriter) summary(s *retrohunt.Summary) error {
	if o.json {
		return o.enc.Encode(summaryLine{s})
	}
	if o.header {
		fmt.Fprintln(o.w)
	}
	fmt.Fprintf(o.w, "lines %d, addresses %d\n", s.Lines, s.Addresses)
	fmt.Fprintf(o.w, "hits %d on %d addresses: listed %d, in-predicted-netblock %d; whitelisted %d, unknown %d (not shown)\n",
		s.Hits, s.HitAddresses, s.ByVerdict[lookup.VerdictListed], s.ByVerdict[lookup.VerdictInNetblock], s.Whitelisted, s.Unknown)
	fmt.Fprintf(o.w, "after prediction %d, before prediction %d, undated %d", s.AfterPrediction, s.BeforePrediction, s.Undated)
	if s.Undated > 0 {
		fmt.Fprint(o.w, " (the line has no time, the hit is a netblock's, or no Predicted At is stored: add it to the feed's context)")
	}
	fmt.Fprintf(o.w, "\nafter prediction and before any list feed confirmed it: %d\n", s.BeforeConfirmation)
	if s.Recorded > 0 {
		fmt.Fprintf(o.w, "recorded a sighting of %d indicators\n", s.Recorded)
	}
	if len(s.Top) > 0 {
		approx := ""
		if s.TopApproximate {
			approx = fmt.Sprintf(" (counted over the first %d addresses hit)", retrohunt.MaxTracked)
		}
		fmt.Fprintf(o.w, "top addresses%s:\n", approx)
		for _, t := range s.Top {
			fmt.Fprintf(o.w, "  %-39s %8d  %s\n", t.Addr, t.Hits, t.Verdict)
		}
	}
	return nil
}
