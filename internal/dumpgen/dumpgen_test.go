package dumpgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"

	"forewarn/internal/dump"
)

const (
	dayLayout  = "2006-01-02T15:04:05"
	realismRow = 100_000
)

// generate runs Generate into memory and returns both datasets decompressed.
func generate(t testing.TB, opts Options) (a, b []byte, st Stats) {
	t.Helper()
	var za, zb bytes.Buffer
	st, err := Generate(context.Background(), &za, &zb, opts)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", opts, err)
	}
	return gunzip(t, za.Bytes()), gunzip(t, zb.Bytes()), st
}

func gunzip(t testing.TB, z []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return raw
}

func readCSV(t testing.TB, raw []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("read CSV: %v", err)
	}
	if len(recs) == 0 || !cmp.Equal(recs[0], dump.ColumnNames[:]) {
		t.Fatalf("CSV header = %q, want %q", recs[:min(1, len(recs))], dump.ColumnNames)
	}
	return recs[1:]
}

func lines(raw []byte) []string {
	s := strings.TrimSuffix(string(raw), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestGenerateIsDeterministic(t *testing.T) {
	for _, format := range []Format{CSV, NDJSON} {
		t.Run(string(format), func(t *testing.T) {
			opts := Options{Rows: 20_000, Seed: 42, Format: format, InvalidRate: 0.01}
			zip := func(opts Options) (a, b []byte) {
				var za, zb bytes.Buffer
				if _, err := Generate(context.Background(), &za, &zb, opts); err != nil {
					t.Fatal(err)
				}
				return za.Bytes(), zb.Bytes()
			}
			a1, b1 := zip(opts)
			a2, b2 := zip(opts)
			if !bytes.Equal(a1, a2) || !bytes.Equal(b1, b2) {
				t.Fatal("two runs with the same options differ")
			}
			opts.Seed = 43
			a3, b3 := zip(opts)
			if bytes.Equal(a1, a3) || bytes.Equal(b1, b3) {
				t.Fatal("seeds 42 and 43 give the same dump")
			}
		})
	}
}

func TestGenerateWritesExactlyRows(t *testing.T) {
	for _, format := range []Format{CSV, NDJSON} {
		for _, rows := range []int{0, 1, 2, 63, 1000, 12_345} {
			t.Run(string(format)+"/"+strconv.Itoa(rows), func(t *testing.T) {
				a, b, st := generate(t, Options{Rows: rows, Seed: int64(rows), Format: format, InvalidRate: 0.05})
				la, lb := lines(a), lines(b)
				if format == CSV {
					for _, l := range [][]string{la, lb} {
						if len(l) == 0 || l[0] != strings.Join(dump.ColumnNames[:], ",") {
							t.Fatalf("missing CSV header in %q", l[:min(len(l), 1)])
						}
					}
					la, lb = la[1:], lb[1:]
				}
				if len(la) != rows || st.Rows != rows {
					t.Errorf("dataset A has %d rows, Stats.Rows = %d, want %d", len(la), st.Rows, rows)
				}
				if len(lb) != st.RowsB {
					t.Errorf("dataset B has %d rows, Stats.RowsB = %d", len(lb), st.RowsB)
				}
			})
		}
	}
}

// importanceSelects reports whether an importance field puts its row in B.
func importanceSelects(field string) bool {
	v, err := strconv.ParseFloat(field, 64)
	return err == nil && v >= 70
}

func TestDatasetBIsTheHighImportanceSubsetOfA(t *testing.T) {
	t.Run("csv", func(t *testing.T) {
		a, b, st := generate(t, Options{Rows: 30_000, Seed: 7, InvalidRate: 0.05})
		var want [][]string
		for _, rec := range readCSV(t, a) {
			if len(rec) == len(dump.ColumnNames) && importanceSelects(rec[dump.Importance]) {
				want = append(want, rec)
			}
		}
		got := readCSV(t, b)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("dataset B differs from the importance >= 70 rows of A (-want +got):\n%s", diff)
		}
		if st.RowsB != len(got) {
			t.Errorf("Stats.RowsB = %d, B holds %d rows", st.RowsB, len(got))
		}
	})
	t.Run("ndjson", func(t *testing.T) {
		a, b, _ := generate(t, Options{Rows: 30_000, Seed: 7, Format: NDJSON, InvalidRate: 0.05})
		var want []string
		for _, line := range lines(a) {
			var obj struct{ Importance json.RawMessage }
			if json.Unmarshal([]byte(line), &obj) == nil && importanceSelects(string(obj.Importance)) {
				want = append(want, line)
			}
		}
		if diff := cmp.Diff(want, lines(b)); diff != "" {
			t.Errorf("dataset B differs from the importance >= 70 rows of A (-want +got):\n%s", diff)
		}
	})
}

// TestGenerateIsRealistic checks the shape the benchmarks and the pipeline's
// tests rely on, on a dump without malformed rows.
func TestGenerateIsRealistic(t *testing.T) {
	start := time.Date(2016, 3, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	a, b, st := generate(t, Options{Rows: realismRow, Seed: 1, Start: start, End: end})
	recs := readCSV(t, a)

	perRow := float64(len(a)) / realismRow
	if perRow < 150 || perRow > 190 {
		t.Errorf("%.1f bytes per row, want about 170", perRow)
	}
	if share := float64(len(b)) / float64(len(a)); share < 0.08 || share > 0.18 {
		t.Errorf("B is %.1f%% of A, want 10-15%%", 100*share)
	}

	type seenIP struct{ lastSeen string }
	seen := make(map[string]seenIP, len(recs))
	var repeats, ipv6, high, medium, decimals, multiCats, mixedCase, withIdents int
	for n, rec := range recs {
		if len(rec) != len(dump.ColumnNames) {
			t.Fatalf("row %d has %d fields: %q", n, len(rec), rec)
		}
		ip, err := netip.ParseAddr(rec[dump.IP])
		if err != nil || ip.String() != rec[dump.IP] {
			t.Fatalf("row %d: ip %q is not a canonical address (%v)", n, rec[dump.IP], err)
		}
		block, err := netip.ParsePrefix(rec[dump.PredictedNetblock])
		if err != nil || !block.Contains(ip) || block.Masked() != block {
			t.Fatalf("row %d: netblock %q does not hold %s (%v)", n, rec[dump.PredictedNetblock], ip, err)
		}
		if ip.Is6() {
			ipv6++
			if bits := block.Bits(); bits != 48 && bits != 64 {
				t.Fatalf("row %d: IPv6 netblock %s, want a /48 or /64", n, block)
			}
		} else if block.Bits() != 24 {
			t.Fatalf("row %d: IPv4 netblock %s, want a /24", n, block)
		}
		predicted := mustTime(t, n, rec[dump.PredictedAt])
		detected := mustTime(t, n, rec[dump.DetectedAt])
		lastSeen := mustTime(t, n, rec[dump.LastSeenAt])
		switch {
		case predicted.Before(start) || lastSeen.After(end):
			t.Fatalf("row %d: dates %s..%s outside %s..%s", n, predicted, lastSeen, start, end)
		case !detected.After(predicted) || lastSeen.Before(detected):
			t.Fatalf("row %d: want predicted_at < detected_at <= last_seen_at, got %q", n, rec)
		case !strings.HasSuffix(rec[dump.DetectedAt], "T00:00:00") || !strings.HasSuffix(rec[dump.LastSeenAt], "T00:00:00"):
			t.Fatalf("row %d: detection dates are not day-granular: %q", n, rec)
		}
		if len(rec[dump.Cluster]) != 40 || strings.Trim(rec[dump.Cluster], "0123456789abcdef") != "" {
			t.Fatalf("row %d: cluster %q is not 40 hex digits", n, rec[dump.Cluster])
		}
		imp, err := strconv.ParseFloat(rec[dump.Importance], 64)
		if err != nil || imp < 0 || imp > 100 {
			t.Fatalf("row %d: importance %q out of 0..100", n, rec[dump.Importance])
		}
		switch {
		case imp >= 70:
			high++
		case imp >= 40:
			medium++
		}
		if imp != math.Trunc(imp) {
			decimals++
		}
		cats := rec[dump.DetectedCategories]
		if strings.Contains(cats, ",") {
			multiCats++
		}
		if cats != strings.ToLower(cats) {
			mixedCase++
		}
		if rec[dump.DetectedIdentifiers] != "" {
			withIdents++
		}
		if prev, ok := seen[rec[dump.IP]]; ok {
			repeats++
			if rec[dump.LastSeenAt] < prev.lastSeen {
				t.Fatalf("row %d: repeat of %s has last_seen_at %s before the earlier %s", n, ip, rec[dump.LastSeenAt], prev.lastSeen)
			}
		}
		seen[rec[dump.IP]] = seenIP{lastSeen: rec[dump.LastSeenAt]}
	}

	pct := func(n int) float64 { return 100 * float64(n) / realismRow }
	for _, c := range []struct {
		name   string
		got    float64
		lo, hi float64
	}{
		{"IPs seen earlier in the file", pct(repeats), 7, 11},
		{"Stats.Repeats", pct(st.Repeats), 7, 11},
		{"IPv6 rows", pct(ipv6), 1, 3.5},
		{"importance >= 70", pct(high), 10, 15},
		{"importance 40-69", pct(medium), 20, 30},
		{"decimal importance", pct(decimals), 0.1, 3},
		{"several detected categories", pct(multiCats), 3, 30},
		{"mixed-case detected categories", pct(mixedCase), 0.1, 5},
		{"detected identifiers", pct(withIdents), 15, 60},
	} {
		t.Logf("%s: %.2f%%", c.name, c.got)
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: %.2f%% of rows, want %g-%g%%", c.name, c.got, c.lo, c.hi)
		}
	}
	if st.IPv6 != ipv6 {
		t.Errorf("Stats.IPv6 = %d, counted %d", st.IPv6, ipv6)
	}
	if st.Invalid != 0 {
		t.Errorf("Stats.Invalid = %d with InvalidRate 0", st.Invalid)
	}
}

func mustTime(t *testing.T, row int, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(dayLayout, s)
	if err != nil {
		t.Fatalf("row %d: %v", row, err)
	}
	return ts
}

// invalidReason returns why a CSV record would be rejected or warned about
// downstream, or "" for a good record.
func invalidReason(rec []string) string {
	if len(rec) != len(dump.ColumnNames) {
		return "fields"
	}
	if ip, err := netip.ParseAddr(rec[dump.IP]); err != nil || ip.Zone() != "" {
		return "ip"
	}
	if _, err := netip.ParsePrefix(rec[dump.PredictedNetblock]); err != nil {
		return "netblock"
	}
	if v, err := strconv.ParseFloat(rec[dump.Importance], 64); err != nil {
		return "importance text"
	} else if v < 0 || v > 100 {
		return "importance range"
	}
	for _, c := range []dump.Column{dump.PredictedAt, dump.DetectedAt, dump.LastSeenAt} {
		if _, err := time.Parse(dayLayout, rec[c]); err != nil {
			return "date"
		}
	}
	return ""
}

func TestInvalidRateIsHonoured(t *testing.T) {
	const rows = 50_000
	for _, rate := range []float64{0, 0.002, 0.05, 0.3, 1} {
		t.Run(strconv.FormatFloat(rate, 'g', -1, 64), func(t *testing.T) {
			a, _, st := generate(t, Options{Rows: rows, Seed: 3, InvalidRate: rate})
			reasons := map[string]int{}
			bad := 0
			for _, rec := range readCSV(t, a) {
				if r := invalidReason(rec); r != "" {
					reasons[r]++
					bad++
				}
			}
			if bad != st.Invalid {
				t.Errorf("found %d malformed rows, Stats.Invalid = %d (%v)", bad, st.Invalid, reasons)
			}
			want := rate * rows
			if tol := 4*math.Sqrt(want) + 1; math.Abs(float64(bad)-want) > tol {
				t.Errorf("%d malformed rows, want %.0f ± %.0f", bad, want, tol)
			}
			if rate >= 0.05 && len(reasons) != 6 {
				t.Errorf("malformed rows by kind = %v, want all six kinds checked", reasons)
			}
		})
	}
}

// TestNDJSONMatchesCSV checks that every NDJSON line is a JSON object with
// the documented types, and that the NDJSON dump of a seed holds the same
// rows as its CSV dump.
func TestNDJSONMatchesCSV(t *testing.T) {
	opts := Options{Rows: 20_000, Seed: 11}
	csvA, _, _ := generate(t, opts)
	want := readCSV(t, csvA)
	opts.Format = NDJSON
	jsonA, _, _ := generate(t, opts)

	var got [][]string
	for n, line := range lines(jsonA) {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, line)
		}
		rec := make([]string, len(dump.ColumnNames))
		for c, name := range dump.ColumnNames {
			v, ok := obj[name]
			delete(obj, name)
			switch col := dump.Column(c); {
			case !ok:
			case col.IsList():
				list, ok := v.([]any)
				if !ok {
					t.Fatalf("line %d: %s is %T, want an array", n, name, v)
				}
				sep := ";"
				if col == dump.DetectedCategories {
					sep = ","
				}
				var parts []string
				for _, e := range list {
					s, ok := e.(string)
					if !ok {
						t.Fatalf("line %d: %s holds %T, want strings", n, name, e)
					}
					parts = append(parts, s)
				}
				rec[c] = strings.Join(parts, sep)
			case col == dump.Importance:
				num, ok := v.(json.Number)
				if !ok {
					t.Fatalf("line %d: importance is %T, want a number", n, v)
				}
				rec[c] = num.String()
			default:
				s, ok := v.(string)
				if !ok {
					t.Fatalf("line %d: %s is %T, want a string", n, name, v)
				}
				rec[c] = s
			}
		}
		if len(obj) != 0 {
			t.Fatalf("line %d: unknown keys %v", n, obj)
		}
		got = append(got, rec)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NDJSON rows differ from CSV rows (-csv +ndjson):\n%s", diff)
	}
}

func TestNDJSONMalformedLines(t *testing.T) {
	a, _, st := generate(t, Options{Rows: 20_000, Seed: 5, Format: NDJSON, InvalidRate: 0.1})
	broken := 0
	for _, line := range lines(a) {
		if !json.Valid([]byte(line)) {
			broken++
		}
	}
	// One kind in eight cuts the line short.
	if want := st.Invalid / len(badKinds); broken < want-2 || broken > want+2 {
		t.Errorf("%d lines are not valid JSON, want about %d of %d malformed rows", broken, want, st.Invalid)
	}
}

func TestGenerateStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Generate(ctx, io.Discard, nil, Options{Rows: 10})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Generate with a cancelled context = %v, want context.Canceled", err)
	}
}

// TestMemoryDoesNotGrowWithRows checks that the generator holds a bounded
// state: a dump a hundred times longer allocates no more.
func TestMemoryDoesNotGrowWithRows(t *testing.T) {
	measure := func(rows int) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := Generate(context.Background(), io.Discard, io.Discard, Options{Rows: rows, Seed: 1, InvalidRate: 0.01}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := measure(2_000), measure(200_000)
	if large > small+small/4 {
		t.Errorf("2,000 rows allocate %d bytes, 200,000 rows %d: memory grows with Rows", small, large)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestGenerateReportsWriteErrors(t *testing.T) {
	_, err := Generate(context.Background(), io.Discard, failingWriter{}, Options{Rows: 100_000})
	if err == nil || !strings.Contains(err.Error(), "dataset B") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Generate into a failing writer = %v, want the dataset B write error", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  Options
		field string
	}{
		{"defaults", Options{}, ""},
		{"negative rows", Options{Rows: -1}, "Rows"},
		{"unknown format", Options{Format: "xml"}, "Format"},
		{"rate above one", Options{InvalidRate: 1.5}, "InvalidRate"},
		{"rate NaN", Options{InvalidRate: math.NaN()}, "InvalidRate"},
		{"end before start", Options{Start: DefaultEnd, End: DefaultStart}, "End"},
		{"start after default end", Options{Start: DefaultEnd.AddDate(1, 0, 0)}, "End"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.opts.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Validate() = %v, want ErrInvalidOptions naming %s", err, c.field)
			}
			if _, err := Generate(context.Background(), io.Discard, nil, c.opts); !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Generate() = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

// TestNarrowDateRange checks that dates stay within a range of a few days.
func TestNarrowDateRange(t *testing.T) {
	start := time.Date(2024, 2, 27, 12, 0, 0, 0, time.UTC)
	end := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)
	a, _, _ := generate(t, Options{Rows: 5000, Seed: 9, Start: start, End: end})
	for n, rec := range readCSV(t, a) {
		for _, c := range []dump.Column{dump.PredictedAt, dump.DetectedAt, dump.LastSeenAt} {
			if ts := mustTime(t, n, rec[c]); ts.Before(start.Truncate(24*time.Hour)) || ts.After(end) {
				t.Fatalf("row %d: %s %s outside %s..%s", n, c, ts, start, end)
			}
		}
	}
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

func BenchmarkGenerate(b *testing.B) {
	const rows = 200_000
	for _, format := range []Format{CSV, NDJSON} {
		b.Run(string(format), func(b *testing.B) {
			var za, zb countingWriter
			for b.Loop() {
				za, zb = countingWriter{}, countingWriter{}
				if _, err := Generate(context.Background(), &za, &zb, Options{Rows: rows, Seed: 1, Format: format}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(za.n)/rows, "gzbytes/row")
		})
	}
}

// ExampleGenerate prints the first rows of a small dump.
func ExampleGenerate() {
	var a bytes.Buffer
	if _, err := Generate(context.Background(), &a, nil, Options{Rows: 3, Seed: 1}); err != nil {
		fmt.Println(err)
		return
	}
	zr, err := gzip.NewReader(&a)
	if err != nil {
		fmt.Println(err)
		return
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		fmt.Println(sc.Text())
	}
	// Output:
	// ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance
	// 203.131.140.176,2019-08-07T20:23:33,203.131.140.0/24,malware,f3879236d10a7078465b774a4db1fd702bc069ba,sslbl,emotet,malware,2019-09-01T00:00:00,2021-02-14T00:00:00,76
	// 53.105.32.0,2021-10-09T16:27:04,53.105.32.0/24,spam,2f44cfbfa02c0cae6059c8e621f385276bca65a6,uceptect_level2,smtp-auth;port-587,spam,2021-11-04T00:00:00,2023-01-31T00:00:00,17
	// 53.105.32.1,2021-10-09T16:27:04,53.105.32.0/24,spam,2f44cfbfa02c0cae6059c8e621f385276bca65a6,uceptect_level3,smtp-auth;port-587,malicious,2021-11-04T00:00:00,2023-01-31T00:00:00,14
}

func TestEpochRedatesAboutTenPercentAndKeepsEveryAddress(t *testing.T) {
	gen := func(epoch int) [][]string {
		var b bytes.Buffer
		if _, err := Generate(context.Background(), &b, nil, Options{Rows: 20000, Seed: 4, Epoch: epoch}); err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(&b)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(zr).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	a, b := gen(0), gen(1)
	if len(a) != len(b) {
		t.Fatalf("%d rows vs %d", len(a), len(b))
	}
	changed := 0
	for i := range a {
		if a[i][0] != b[i][0] {
			t.Fatalf("row %d: address %s became %s", i, a[i][0], b[i][0])
		}
		if strings.Join(a[i], ",") != strings.Join(b[i], ",") {
			changed++
			for _, col := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
				if a[i][col] != b[i][col] {
					t.Fatalf("row %d: column %d changed: %q -> %q", i, col, a[i][col], b[i][col])
				}
			}
		}
	}
	if share := float64(changed) / float64(len(a)); share < 0.08 || share > 0.12 {
		t.Errorf("epoch changed %.1f%% of rows, want about 10%%", share*100)
	}
}
