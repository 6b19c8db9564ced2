package dump

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
)

const sampleCSV = "ip,predicted_at,predicted_netblock,predicted_category,cluster,detected_by,detected_identifiers,detected_categories,detected_at,last_seen_at,importance\n" +
	"102.140.192.0,2018-06-21T02:03:48,102.140.192.0/24,spam,3caa3b5744f91251e7ec2b45ef2d6d892786935b,uceptect_level2,,spam,2021-02-09T00:00:00,2022-11-27T00:00:00,10\n" +
	"198.51.100.7,2018-06-21T02:03:48,198.51.100.0/24,spam,abc,\"a;b\",\"x,y\",\"malicious,botnet\",2021-02-09T00:00:00,2022-11-27T00:00:00,85.5\n"

const sampleNDJSON = `{"ip":"102.140.192.0","predicted_at":"2018-06-21T02:03:48","predicted_netblock":"102.140.192.0/24","predicted_category":"spam","cluster":"3caa3b5744f91251e7ec2b45ef2d6d892786935b","detected_by":["uceptect_level2"],"detected_identifiers":[],"detected_categories":["spam"],"detected_at":"2021-02-09T00:00:00","last_seen_at":"2022-11-27T00:00:00","importance":10}
{"ip":"198.51.100.7","predicted_at":null,"detected_by":["a;b"],"detected_identifiers":["x","y"],"detected_categories":["malicious","botnet"],"importance":85.5}
`

// sampleRows are the records of sampleCSV.
var sampleRows = []step{
	{Line: 2, Fields: map[Column]string{
		IP: "102.140.192.0", PredictedAt: "2018-06-21T02:03:48", PredictedNetblock: "102.140.192.0/24",
		PredictedCategory: "spam", Cluster: "3caa3b5744f91251e7ec2b45ef2d6d892786935b",
		DetectedBy: "uceptect_level2", DetectedCategories: "spam", DetectedAt: "2021-02-09T00:00:00",
		LastSeenAt: "2022-11-27T00:00:00", Importance: "10",
	}},
	{Line: 3, Fields: map[Column]string{
		IP: "198.51.100.7", PredictedAt: "2018-06-21T02:03:48", PredictedNetblock: "198.51.100.0/24",
		PredictedCategory: "spam", Cluster: "abc", DetectedBy: "a;b", DetectedIdentifiers: "x,y",
		DetectedCategories: "malicious,botnet", DetectedAt: "2021-02-09T00:00:00",
		LastSeenAt: "2022-11-27T00:00:00", Importance: "85.5",
	}},
}

// step is what one call of Next gave, in a form cmp can diff: a record's
// non-empty values, or a row error's text.
type step struct {
	Line   int64
	Fields map[Column]string   `json:",omitempty"`
	Lists  map[Column][]string `json:",omitempty"`
	Err    string              `json:",omitempty"`
}

// readAll calls Next until io.EOF or a fatal error, which it returns.
func readAll(t *testing.T, r *Reader) ([]step, error) {
	t.Helper()
	var steps []step
	for range 1000 {
		rec, err := r.Next()
		if err == io.EOF {
			return steps, nil
		}
		var rowErr *RowError
		if errors.As(err, &rowErr) {
			steps = append(steps, step{Line: rowErr.Line, Err: rowErr.Error()})
			continue
		}
		if err != nil {
			return steps, err
		}
		s := step{Line: rec.Line}
		for c := range NumColumns {
			if len(rec.Fields[c]) > 0 {
				if s.Fields == nil {
					s.Fields = map[Column]string{}
				}
				s.Fields[c] = string(rec.Fields[c])
			}
			if rec.Lists[c] != nil {
				if s.Lists == nil {
					s.Lists = map[Column][]string{}
				}
				list := []string{}
				for _, e := range rec.Lists[c] {
					list = append(list, string(e))
				}
				s.Lists[c] = list
			}
		}
		steps = append(steps, s)
	}
	t.Fatal("Next did not reach the end in 1000 calls")
	return nil, nil
}

func gzipBytes(tb testing.TB, s string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestReader(t *testing.T) {
	gzSample := gzipBytes(t, sampleCSV)
	badCRC := bytes.Clone(gzSample)
	badCRC[len(badCRC)-8] ^= 0xff // first byte of the CRC-32 in the trailer

	tests := []struct {
		name       string
		in         []byte
		lim        Limits
		format     Format
		compressed bool
		want       []step
		wantErr    []error // all must match the fatal error, if any
		wantMsg    string  // a substring of the fatal error
	}{
		{
			name: "plain csv", in: []byte(sampleCSV),
			format: FormatCSV, want: sampleRows,
		},
		{
			name: "gzip csv", in: gzSample,
			format: FormatCSV, compressed: true, want: sampleRows,
		},
		{
			name:   "multistream gzip",
			in:     append(gzipBytes(t, "ip,cluster\n1.2.3.4,a\n"), gzipBytes(t, "5.6.7.8,b\n")...),
			format: FormatCSV, compressed: true,
			want: []step{
				{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", Cluster: "a"}},
				{Line: 3, Fields: map[Column]string{IP: "5.6.7.8", Cluster: "b"}},
			},
		},
		{
			name:   "reordered and extra columns, case and blanks in names",
			in:     []byte("note, Importance ,IP,extra,Cluster,ip\nhello,7,1.2.3.4,x,c1,9.9.9.9\n"),
			format: FormatCSV,
			want: []step{
				{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", Importance: "7", Cluster: "c1"}},
			},
		},
		{
			name:   "byte order mark",
			in:     []byte("\xef\xbb\xbfip,cluster\n1.2.3.4,a\n"),
			format: FormatCSV,
			want:   []step{{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", Cluster: "a"}}},
		},
		{
			name:   "crlf",
			in:     []byte("ip,cluster\r\n1.2.3.4,a\r\n\"5.6.7.8\",\"b\r\nc\"\r\n"),
			format: FormatCSV,
			want: []step{
				{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", Cluster: "a"}},
				{Line: 3, Fields: map[Column]string{IP: "5.6.7.8", Cluster: "b\nc"}},
			},
		},
		{
			name:   "blank lines",
			in:     []byte("\n  \nip,cluster\n\n1.2.3.4,a\n   \n\r\n\t\n5.6.7.8,b\n\n"),
			format: FormatCSV,
			want: []step{
				{Line: 5, Fields: map[Column]string{IP: "1.2.3.4", Cluster: "a"}},
				{Line: 9, Fields: map[Column]string{IP: "5.6.7.8", Cluster: "b"}},
			},
		},
		{
			name: "quoted fields",
			in: []byte("ip,detected_by,detected_identifiers\n" +
				"1.2.3.4,\"a,b\",\"say \"\"hi\"\"\"\n" +
				"5.6.7.8,\"multi\nline\n\",\"  padded  \"\n" +
				"9.9.9.9,\"\",x\n"),
			format: FormatCSV,
			want: []step{
				{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", DetectedBy: "a,b", DetectedIdentifiers: `say "hi"`}},
				{Line: 3, Fields: map[Column]string{IP: "5.6.7.8", DetectedBy: "multi\nline", DetectedIdentifiers: "padded"}},
				{Line: 6, Fields: map[Column]string{IP: "9.9.9.9", DetectedIdentifiers: "x"}},
			},
		},
		{
			name:   "wrong number of fields",
			in:     []byte("ip,cluster,importance\n1.2.3.4,a\n5.6.7.8,b,1,2\n9.9.9.9,c,3\n"),
			format: FormatCSV,
			want: []step{
				{Line: 2, Err: "line 2: wrong number of fields: got 2, want 3"},
				{Line: 3, Err: "line 3: wrong number of fields: got 4, want 3"},
				{Line: 4, Fields: map[Column]string{IP: "9.9.9.9", Cluster: "c", Importance: "3"}},
			},
		},
		{
			name:   "bad quoting",
			in:     []byte("ip,cluster\n1.2.3.4,a\"b\n5.6.7.8,\"c\"d\n9.9.9.9,\"e\"\n"),
			format: FormatCSV,
			want: []step{
				{Line: 2, Err: `line 2: bare " in unquoted field 2: quote the field and double the quotes inside it`},
				{Line: 3, Err: `line 3: extraneous or missing " in quoted field 2`},
				{Line: 4, Fields: map[Column]string{IP: "9.9.9.9", Cluster: "e"}},
			},
		},
		{
			name:   "quote open at the end",
			in:     []byte("ip,cluster\n1.2.3.4,a\n5.6.7.8,\"b\n"),
			format: FormatCSV,
			want: []step{
				{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", Cluster: "a"}},
				{Line: 3, Err: `line 3: quoted field 2 is still open at the end of the dump`},
			},
		},
		{
			name: "last line without line end", in: []byte("ip\n1.2.3.4"),
			format: FormatCSV,
			want:   []step{{Line: 2, Fields: map[Column]string{IP: "1.2.3.4"}}},
		},
		{name: "empty body", in: nil, format: FormatCSV},
		{name: "blank body", in: []byte("\xef\xbb\xbf \r\n\n\t"), format: FormatCSV},
		{name: "empty gzip", in: gzipBytes(t, ""), format: FormatCSV, compressed: true},
		{name: "header only", in: []byte("ip,cluster\n"), format: FormatCSV},
		{name: "header only without line end", in: []byte("ip,cluster"), format: FormatCSV},
		{
			name: "truncated gzip", in: gzSample[:len(gzSample)-12],
			format: FormatCSV, compressed: true,
			want:    sampleRows[:1], // streamed before the damage shows
			wantErr: []error{ErrCorrupt, io.ErrUnexpectedEOF},
			wantMsg: "the dump is incomplete or corrupt: the gzip stream ends early",
		},
		{
			name: "gzip cut in the header", in: gzSample[:5],
			wantErr: []error{ErrCorrupt, io.ErrUnexpectedEOF},
		},
		{
			name: "corrupt crc", in: badCRC,
			format: FormatCSV, compressed: true,
			want:    sampleRows,
			wantErr: []error{ErrCorrupt, gzip.ErrChecksum},
			wantMsg: "the gzip checksum does not match",
		},
		{
			name: "garbage after a gzip member", in: append(bytes.Clone(gzSample), "<html>trailing garbage</html>"...),
			format: FormatCSV, compressed: true,
			want:    sampleRows,
			wantErr: []error{ErrCorrupt, gzip.ErrHeader},
		},
		{
			name: "decompressed size exactly at the limit", in: gzSample,
			lim:    Limits{MaxDecompressed: int64(len(sampleCSV))},
			format: FormatCSV, compressed: true, want: sampleRows,
		},
		{
			name: "decompressed size one past the limit", in: gzSample,
			lim:    Limits{MaxDecompressed: int64(len(sampleCSV)) - 1},
			format: FormatCSV, compressed: true,
			want:    sampleRows[:1],
			wantErr: []error{ErrLimit},
			wantMsg: "dump exceeds the decompressed size limit of " + strconv.Itoa(len(sampleCSV)-1) + " bytes: raise --max-decompressed",
		},
		{
			name:    "line limit",
			in:      []byte("ip,cluster\n1.2.3.4,a\n5.6.7.8," + strings.Repeat("b", 100) + "\n9.9.9.9,c\n"),
			lim:     Limits{MaxLine: 64},
			format:  FormatCSV,
			want:    []step{{Line: 2, Fields: map[Column]string{IP: "1.2.3.4", Cluster: "a"}}},
			wantErr: []error{ErrLimit},
			wantMsg: "line 3 is longer than the line limit of 64 bytes (--max-line)",
		},
		{
			name:    "line limit across quoted lines",
			in:      []byte("ip,cluster\n1.2.3.4,\"" + strings.Repeat("b\n", 40) + "\"\n"),
			lim:     Limits{MaxLine: 64},
			format:  FormatCSV,
			wantErr: []error{ErrLimit},
			wantMsg: "line 2 is longer than the line limit",
		},
		{
			name: "missing ip column", in: []byte("addr,cluster,\"\"\n1.2.3.4,a,\n"),
			wantErr: []error{ErrNoIPColumn},
			wantMsg: `dump header has no "ip" column (columns: addr, cluster, "")`,
		},
		{
			name: "ndjson", in: []byte(sampleNDJSON), format: FormatNDJSON,
			want: []step{
				{
					Line: 1,
					Fields: map[Column]string{
						IP: "102.140.192.0", PredictedAt: "2018-06-21T02:03:48", PredictedNetblock: "102.140.192.0/24",
						PredictedCategory: "spam", Cluster: "3caa3b5744f91251e7ec2b45ef2d6d892786935b",
						DetectedAt: "2021-02-09T00:00:00", LastSeenAt: "2022-11-27T00:00:00", Importance: "10",
					},
					Lists: map[Column][]string{DetectedBy: {"uceptect_level2"}, DetectedCategories: {"spam"}},
				},
				{
					Line:   2,
					Fields: map[Column]string{IP: "198.51.100.7", Importance: "85.5"},
					Lists: map[Column][]string{
						DetectedBy: {"a;b"}, DetectedIdentifiers: {"x", "y"}, DetectedCategories: {"malicious", "botnet"},
					},
				},
			},
		},
		{
			name: "gzip ndjson", in: gzipBytes(t, "\xef\xbb\xbf\n  {\"ip\": \"1.2.3.4\"}\n"),
			format: FormatNDJSON, compressed: true,
			want: []step{{Line: 2, Fields: map[Column]string{IP: "1.2.3.4"}}},
		},
		{
			name: "ndjson values",
			in: []byte(`{" IP ":" 1.2.3.4 ","Importance":1e3,"cluster":true,"detected_by":"a\u0041\"b","ip":"dup","other":{"x":1}}` + "\r\n" +
				"\n" +
				`{"ip":"5.6.7.8","detected_at":null,"importance":-0.5,"detected_categories":[" a ",null,7,false,""]}` + "\n"),
			format: FormatNDJSON,
			want: []step{
				{Line: 1, Fields: map[Column]string{IP: "1.2.3.4", Importance: "1e3", Cluster: "true", DetectedBy: `aA"b`}},
				{
					Line: 3, Fields: map[Column]string{IP: "5.6.7.8", Importance: "-0.5"},
					Lists: map[Column][]string{DetectedCategories: {"a", "7", "false", ""}},
				},
			},
		},
		{
			name: "ndjson bad lines",
			in: []byte(`{"ip":"1.2.3.4"}` + "\n" +
				`["not","an","object"]` + "\n" +
				`{"ip":"5.6.7.8","cluster":{"nested":true}}` + "\n" +
				`{"ip":"5.6.7.8","detected_by":[["nested"]]}` + "\n" +
				`{"ip":` + "\n" +
				`{"ip":"9.9.9.9"}`),
			format: FormatNDJSON,
			want: []step{
				{Line: 1, Fields: map[Column]string{IP: "1.2.3.4"}},
				{Line: 2, Err: "line 2: not a JSON object: every line of an NDJSON dump must be one {...} object"},
				{Line: 3, Err: `line 3: "cluster" holds a JSON object: want a string, number, boolean, null or an array of strings`},
				{Line: 4, Err: `line 4: "detected_by" holds an array with a nested array: want strings, numbers or booleans`},
				{Line: 5, Err: `line 5: invalid JSON: cannot parse JSON: cannot parse object: cannot parse object value: cannot parse empty string; unparsed tail: ""`},
				{Line: 6, Fields: map[Column]string{IP: "9.9.9.9"}},
			},
		},
		{
			name: "ndjson line limit", in: []byte(`{"ip":"1.2.3.4"}` + "\n" + `{"ip":"` + strings.Repeat("x", 100) + `"}` + "\n"),
			lim:     Limits{MaxLine: 64},
			format:  FormatNDJSON,
			want:    []step{{Line: 1, Fields: map[Column]string{IP: "1.2.3.4"}}},
			wantErr: []error{ErrLimit},
			wantMsg: "line 2 is longer than the line limit of 64 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.in), tt.lim)
			var got []step
			if err == nil {
				if r.Format() != tt.format || r.Compressed() != tt.compressed {
					t.Errorf("format %q, compressed %v; want %q, %v", r.Format(), r.Compressed(), tt.format, tt.compressed)
				}
				got, err = readAll(t, r)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(tt.wantErr) > 0 && err == nil {
				t.Fatalf("no error; want one matching %v", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("error %q does not match %v", err, want)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if err != nil && r != nil {
				if _, again := r.Next(); again != err {
					t.Errorf("Next after the fatal error returned %v; want the same error", again)
				}
			}
		})
	}
}

func TestReaderColumns(t *testing.T) {
	r, err := NewReader(strings.NewReader(" IP ,Cluster,extra\n"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"IP", "Cluster", "extra"}, r.Columns()); diff != "" {
		t.Errorf("Columns (-want +got):\n%s", diff)
	}
	for c := range NumColumns {
		if want := c == IP || c == Cluster; r.Has(c) != want {
			t.Errorf("Has(%s) = %v, want %v", c, r.Has(c), want)
		}
	}

	r, err = NewReader(strings.NewReader(`{"ip":"1.2.3.4","Importance":null,"x":1}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ip", "importance"}, r.Columns()); diff != "" {
		t.Errorf("NDJSON Columns (-want +got):\n%s", diff)
	}
}

func TestLimitsValidate(t *testing.T) {
	_, err := NewReader(strings.NewReader(sampleCSV), Limits{MaxLine: -1})
	if err == nil || !strings.Contains(err.Error(), "MaxLine is -1") {
		t.Errorf("negative MaxLine: got %v, want an error naming MaxLine", err)
	}
}

// TestGzipBomb checks that a dump inflating far past MaxDecompressed is
// stopped at the limit, with memory bounded by the limit rather than by
// the inflated size.
func TestGzipBomb(t *testing.T) {
	const inflated, limit = 64 << 20, 1 << 20
	var buf bytes.Buffer
	// The default level: BestCompression took ten times as long under
	// -race to make a bomb 2% smaller.
	zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range inflated / len(zeros) {
		zw.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	bomb := buf.Bytes()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// A line limit above the size limit, so the size limit is what stops a
	// dump that is one endless line.
	_, err = NewReader(bytes.NewReader(bomb), Limits{MaxDecompressed: limit, MaxLine: 16 << 20})
	runtime.ReadMemStats(&after)

	if !errors.Is(err, ErrLimit) {
		t.Fatalf("got %v, want an error wrapping ErrLimit", err)
	}
	const want = "dump exceeds the decompressed size limit of 1 MiB: raise --max-decompressed"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("decoding the %d-byte bomb allocated %d bytes; want it bounded near the %d-byte limit",
			len(bomb), alloc, limit)
	}

	// The same with a bomb of short lines, stopped in Next.
	buf.Reset()
	zw.Reset(&buf)
	zw.Write([]byte("ip\n"))
	row := bytes.Repeat([]byte("1.2.3.4\n"), 1<<17)
	for range inflated / len(row) {
		zw.Write(row)
	}
	zw.Close()
	r, err := NewReader(bytes.NewReader(buf.Bytes()), Limits{MaxDecompressed: limit})
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for {
		_, err = r.Next()
		if err != nil {
			break
		}
		rows++
	}
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("got %v, want an error wrapping ErrLimit", err)
	}
	if want := (limit - 3) / 8; rows != want {
		t.Errorf("read %d rows before the limit, want %d", rows, want)
	}
	if r.BytesRead() > limit {
		t.Errorf("BytesRead %d is past the %d-byte limit", r.BytesRead(), limit)
	}
}

// TestNextDoesNotAllocate holds the CSV hot path to no allocation per row,
// quoted rows included.
func TestNextDoesNotAllocate(t *testing.T) {
	body := []byte(strings.Repeat(sampleCSV[strings.IndexByte(sampleCSV, '\n')+1:], 5000))
	r, err := NewReader(io.MultiReader(strings.NewReader(sampleCSV), bytes.NewReader(body)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Next allocates %v times per row; want 0", allocs)
	}

	r, err = NewReader(bytes.NewReader(bytes.Repeat([]byte(sampleNDJSON), 3000)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(5000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("NDJSON Next allocates %v times per row; want 0", allocs)
	}
}

func TestHTMLBodyIsNotADump(t *testing.T) {
	for _, body := range []string{"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "\n  <html>", `[{"ip":"1.2.3.4"}]`} {
		_, err := NewReader(strings.NewReader(body), Limits{})
		if !errors.Is(err, ErrNotADump) || !strings.Contains(err.Error(), "neither gzip, CSV nor NDJSON") {
			t.Errorf("%q: %v", body, err)
		}
	}
}
