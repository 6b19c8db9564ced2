package feeddef

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/dump"
	"forewarn/internal/dumpgen"
	"forewarn/internal/filter"
	"forewarn/internal/indicator"
	"forewarn/internal/prediction"
)

// parsed is one row as both parsers see it, in comparable form.
type parsed struct {
	prefix netip.Prefix
	attrs  map[string]string
}

// keep is a hand-written filter of prediction rows; nil keeps every row.
type keep func(*prediction.Row) bool

func handWritten(t *testing.T, gz []byte, now time.Time, keep keep) (rows map[int64]parsed, invalid []int64) {
	t.Helper()
	dr, err := dump.NewReader(bytes.NewReader(gz), dump.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer dr.Close()
	p := prediction.NewParser(prediction.DefaultLimits(now))
	rows = map[int64]parsed{}
	var row prediction.Row
	for {
		rec, err := dr.Next()
		if errors.Is(err, io.EOF) {
			return rows, invalid
		}
		var re *dump.RowError
		if errors.As(err, &re) {
			invalid = append(invalid, re.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Parse(rec, &row); err != nil {
			invalid = append(invalid, rec.Line)
			continue
		}
		if keep != nil && !keep(&row) {
			continue
		}
		a := map[string]string{}
		date := func(name string, v int64) {
			if v != prediction.NoTime {
				a[name] = indicator.DateValue(time.Unix(v, 0)).String()
			}
		}
		text := func(name string, v []byte) {
			if len(v) > 0 {
				a[name] = string(v)
			}
		}
		list := func(name string, vs [][]byte) {
			if len(vs) > 0 {
				items := make([]string, len(vs))
				for i, v := range vs {
					items[i] = string(v)
				}
				sort.Strings(items)
				a[name] = indicator.ListValue(items).String()
			}
		}
		date(indicator.AttrPredictedAt, row.PredictedAt)
		date(indicator.AttrDetectedAt, row.DetectedAt)
		date(indicator.AttrLastSeenAt, row.LastSeenAt)
		if row.PredictedNetblock.IsValid() {
			a[indicator.AttrPredictedNetblock] = row.PredictedNetblock.String()
		}
		text(indicator.AttrPredictedCategory, row.PredictedCategory)
		text(indicator.AttrCluster, row.Cluster)
		list(indicator.AttrDetectedBy, row.DetectedBy)
		list(indicator.AttrDetectedIdentifiers, row.DetectedIdentifiers)
		list(indicator.AttrDetectedCategories, row.DetectedCategories)
		a[indicator.AttrImportance] = prediction.FormatImportance(row.Importance)
		a[indicator.AttrNormalizedImportance] = indicator.NormalizeImportance(row.Importance)
		rows[row.Line] = parsed{netip.PrefixFrom(row.Addr, row.Addr.BitLen()), a}
	}
}

func generic(t *testing.T, gz []byte, p Params) (rows map[int64]parsed, invalid []int64) {
	t.Helper()
	d := Builtin("seclytics")
	body, err := d.Decompress(bytes.NewReader(gz), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	r, err := d.NewReader(body, p)
	if err != nil {
		t.Fatal(err)
	}
	rows = map[int64]parsed{}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		a := map[string]string{}
		for _, at := range e.Attrs {
			if at.Value.Kind == indicator.KindList {
				items := append([]string(nil), at.Value.List...)
				sort.Strings(items)
				a[at.Name] = indicator.ListValue(items).String()
				continue
			}
			a[at.Name] = at.Value.String()
		}
		rows[e.Line] = parsed{e.Prefix, a}
	}
	if r.Stats().Invalid > MaxProblems {
		t.Fatalf("%d invalid rows: more than the %d kept", r.Stats().Invalid, MaxProblems)
	}
	for _, p := range r.Problems() {
		invalid = append(invalid, p.Line)
	}
	return rows, invalid
}

// TestSeclyticsDefinitionMatchesHandWrittenParser parses one generated
// Seclytics dump, malformed rows included, with the hand-written parser
// (dump + prediction) and with the seclytics definition through the
// generic CSV path: the same rows are rejected, and the others give the
// same addresses and values.
func TestSeclyticsDefinitionMatchesHandWrittenParser(t *testing.T) {
	var gz bytes.Buffer
	st, err := dumpgen.Generate(context.Background(), &gz, nil, dumpgen.Options{Rows: 3000, Seed: 16, InvalidRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	now := dumpgen.DefaultEnd
	want, wantInvalid := handWritten(t, gz.Bytes(), now, nil)
	// No filter, every attribute: compare what the parsers read.
	got, gotInvalid := generic(t, gz.Bytes(), Params{Now: now, Settings: map[string]string{
		"threshold": "0", "categories": "", "context": "all", "normalize": "true"}})
	// Some malformed rows only lose an attribute (a bad date or netblock).
	if len(wantInvalid) == 0 || len(wantInvalid) > st.Invalid {
		t.Fatalf("the hand-written parser rejected %d rows, the generator wrote %d malformed ones", len(wantInvalid), st.Invalid)
	}
	if !equalLines(wantInvalid, gotInvalid) {
		t.Errorf("rejected lines differ:\nhand-written %v\ndefinition   %v", wantInvalid, gotInvalid)
	}
	if len(want) < 2900 {
		t.Fatalf("only %d valid rows to compare", len(want))
	}
	if len(got) != len(want) {
		t.Errorf("%d rows read, the hand-written parser read %d", len(got), len(want))
	}
	diffs := 0
	for line, w := range want {
		g, ok := got[line]
		switch {
		case !ok:
			t.Errorf("line %d: missing", line)
		case g.prefix != w.prefix:
			t.Errorf("line %d: indicator %s, want %s", line, g.prefix, w.prefix)
		default:
			for name, wv := range w.attrs {
				if g.attrs[name] != wv {
					t.Errorf("line %d: %s = %q, want %q", line, name, g.attrs[name], wv)
				}
			}
			for name := range g.attrs {
				if _, ok := w.attrs[name]; !ok {
					t.Errorf("line %d: extra attribute %s = %q", line, name, g.attrs[name])
				}
			}
		}
		if t.Failed() {
			if diffs++; diffs > 10 {
				t.Fatal("too many differences")
			}
		}
	}
}

func equalLines(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSeclyticsDefinitionFilters checks the definition's filters (threshold,
// category whitelist, date window over Last Seen At, Detected At,
// Predicted At) keep exactly the rows the hand-written filter keeps.
func TestSeclyticsDefinitionFilters(t *testing.T) {
	var gz bytes.Buffer
	if _, err := dumpgen.Generate(context.Background(), &gz, nil, dumpgen.Options{Rows: 3000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	now := dumpgen.DefaultEnd
	since, until := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		settings map[string]string
		filter   *filter.Filter
	}{
		{"defaults", nil, filter.New(70, []string{"malicious", "phishing", "botnet", "backscatter"}, false, 0, 0)},
		{"threshold and window", map[string]string{"threshold": "55.5", "categories": "Botnet,SPAM", "filter_by_date": "true"},
			filter.New(55.5, []string{"botnet", "spam"}, true, since.Unix(), until.Unix())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := handWritten(t, gz.Bytes(), now, func(r *prediction.Row) bool { return tc.filter.Check(r) == filter.Keep })
			got, _ := generic(t, gz.Bytes(), Params{Now: now, Since: since, Until: until, Settings: tc.settings})
			if len(want) < 100 || len(want) > 2900 {
				t.Fatalf("the hand-written filter kept %d of 3000 rows: not a test of filtering", len(want))
			}
			if len(got) != len(want) {
				t.Errorf("kept %d rows, the hand-written filter kept %d", len(got), len(want))
			}
			for line := range want {
				if _, ok := got[line]; !ok {
					t.Errorf("line %d was dropped", line)
				}
			}
			// The default context keeps five attributes, no Normalized Importance.
			for line, g := range got {
				if _, ok := g.attrs[indicator.AttrPredictedAt]; ok {
					t.Fatalf("line %d kept Predicted At, which the default context leaves out", line)
				}
				if _, ok := g.attrs[indicator.AttrNormalizedImportance]; ok {
					t.Fatalf("line %d has Normalized Importance with normalize off", line)
				}
			}
		})
	}
}

// TestSeclyticsDefinitionReadsNDJSON: the same dump as NDJSON (list
// columns as arrays) reads to the same rows as the hand-written parser.
func TestSeclyticsDefinitionReadsNDJSON(t *testing.T) {
	var gz bytes.Buffer
	if _, err := dumpgen.Generate(context.Background(), &gz, nil, dumpgen.Options{Rows: 2000, Seed: 9, Format: dumpgen.NDJSON, InvalidRate: 0.02}); err != nil {
		t.Fatal(err)
	}
	now := dumpgen.DefaultEnd
	want, wantInvalid := handWritten(t, gz.Bytes(), now, nil)
	got, gotInvalid := generic(t, gz.Bytes(), Params{Now: now, Settings: map[string]string{
		"threshold": "0", "categories": "", "context": "all", "normalize": "true"}})
	if len(want) < 1900 || len(got) != len(want) || len(wantInvalid) == 0 {
		t.Fatalf("read %d rows, the hand-written parser %d", len(got), len(want))
	}
	if !equalLines(wantInvalid, gotInvalid) {
		t.Errorf("rejected lines differ:\nhand-written %v\ndefinition   %v", wantInvalid, gotInvalid)
	}
	for line, w := range want {
		if g := got[line]; !cmp.Equal(g.attrs, w.attrs) || g.prefix != w.prefix {
			t.Fatalf("line %d:\n got %v %v\nwant %v %v", line, g.prefix, g.attrs, w.prefix, w.attrs)
		}
	}
}

// TestSeclyticsArrayItemsAreNotSplit: an NDJSON array's items are the
// list's items, commas and bars included, as the hand-written parser keeps
// them; the same values in a CSV field are split on the separators.
func TestSeclyticsArrayItemsAreNotSplit(t *testing.T) {
	body := []byte(`{"ip":"198.51.100.7","detected_by":["Acme, Inc","b|c"],"detected_categories":["malware"],"importance":80,"last_seen_at":"2026-11-01"}` + "\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	want, _ := handWritten(t, gz.Bytes(), now, nil)
	got, _ := generic(t, gz.Bytes(), Params{Now: now, Settings: map[string]string{
		"threshold": "0", "categories": "", "context": "all", "normalize": "true"}})
	if len(want) != 1 || len(got) != 1 {
		t.Fatalf("read %d rows, the hand-written parser %d; want 1", len(got), len(want))
	}
	for line, w := range want {
		if !strings.Contains(w.attrs["Detected By"], "Acme, Inc") {
			t.Fatalf("the hand-written parser read Detected By as %q", w.attrs["Detected By"])
		}
		if g := got[line]; !cmp.Equal(g.attrs, w.attrs) {
			t.Errorf("line %d:\n got %v\nwant %v", line, g.attrs, w.attrs)
		}
	}
}
