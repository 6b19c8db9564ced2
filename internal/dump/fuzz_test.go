package dump

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// csvStep is one result of reading a CSV stream: a record with its start
// line, or a malformed record with the line where it starts.
type csvStep struct {
	Line   int64
	Fields []string
	Err    bool
}

// FuzzCSV checks csvSplitter against encoding/csv (LazyQuotes=false,
// FieldsPerRecord=-1) on every record of the stream, malformed ones and the
// ones after them included: same fields, same start lines, errors at the
// same records. The splitter is compared before the Reader's own rules
// (trimming, skipping lines of white space, the field-count check), which
// are the intentional differences from encoding/csv and are tested in
// reader_test.go. chunk sets how many bytes each Read returns, so records
// straddle refills, and the window size: 16 bytes that must grow (lines
// scanned at the very end of the window), or 4 KiB (lines scanned with
// window bytes after them).
func FuzzCSV(f *testing.F) {
	for _, seed := range []string{
		"ip,predicted_at\n1.2.3.4,2018-06-21T02:03:48\n",
		"a,\"b,c\",\"d\"\"e\"\n\"x\ny\",z\r\n",
		"\n\r\n\"open\n\n,\"",
		"a\"b,c\n\"a\"x,b\nok,row\n",
		"a,b\r\r\n\"c\r\nd\",e\r",
		" \"a\",b\n,,\n",
	} {
		f.Add([]byte(seed), uint8(3))
		f.Add([]byte(seed), uint8(200))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		want := stdlibSteps(t, data)
		window := 16
		if chunk&1 == 0 {
			window = 4096
		}
		got := splitterSteps(t, data, int(chunk%32)+1, window)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("splitter differs from encoding/csv on %q (-want +got):\n%s", data, diff)
		}
	})
}

func stdlibSteps(t *testing.T, data []byte) []csvStep {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var steps []csvStep
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return steps
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("encoding/csv: unexpected error %v", err)
			}
			steps = append(steps, csvStep{Line: int64(pe.StartLine), Err: true})
			continue
		}
		line, _ := r.FieldPos(0)
		steps = append(steps, csvStep{Line: int64(line), Fields: rec})
	}
}

func splitterSteps(t *testing.T, data []byte, chunk, window int) []csvStep {
	lines := newLineReader(&chunkReader{data: data, chunk: chunk}, window, len(data)+window)
	s := csvSplitter{lines: lines, maxFields: len(data) + 1}
	var steps []csvStep
	for {
		err := s.next()
		if err == io.EOF {
			return steps
		}
		if err != nil {
			var rowErr *RowError
			if !errors.As(err, &rowErr) {
				t.Fatalf("splitter: unexpected error %v", err)
			}
			steps = append(steps, csvStep{Line: rowErr.Line, Err: true})
			continue
		}
		if len(s.fields) != s.count {
			t.Fatalf("splitter stored %d fields of %d below its cap", len(s.fields), s.count)
		}
		fields := make([]string, len(s.fields))
		for i, f := range s.fields {
			fields[i] = string(f)
		}
		steps = append(steps, csvStep{Line: s.line, Fields: fields})
	}
}

// chunkReader returns its data at most chunk bytes per Read.
type chunkReader struct {
	data  []byte
	chunk int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.chunk, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// FuzzReader feeds arbitrary bytes, plain or gzip, to NewReader and Next
// with small limits. It asserts no panic and bounded behaviour: the loop
// ends, every call consumes input, records come in line order, fatal errors
// are of the documented kinds and stick.
func FuzzReader(f *testing.F) {
	for _, seed := range [][]byte{
		[]byte(sampleCSV),
		gzipBytes(f, sampleCSV),
		[]byte(sampleNDJSON),
		gzipBytes(f, sampleNDJSON),
		[]byte("\xef\xbb\xbf IP ,x\r\n1.2.3.4,\"a\"\"b\"\r\n\r\n5.6.7.8\n"),
		[]byte("{\"ip\":{}}\n[1]\n{\"ip\":\"1.2.3.4\",\"importance\":[1,true,null,\"x\"]}"),
		append(gzipBytes(f, "ip\n1.2.3.4\n"), gzipBytes(f, "5.6.7.8\n")...),
		gzipBytes(f, "ip\n1.2.3.4\n")[:20],
		[]byte("\x1f\x8b"),
		[]byte("a,b\n"),
	} {
		f.Add(seed)
	}
	lim := Limits{MaxDecompressed: 1 << 20, MaxLine: 4 << 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), lim)
		if err != nil {
			var rowErr *RowError
			if !errors.Is(err, ErrNoIPColumn) && !errors.Is(err, ErrLimit) && !errors.Is(err, ErrNotADump) &&
				!errors.Is(err, ErrCorrupt) && !errors.As(err, &rowErr) {
				t.Fatalf("NewReader: unexpected kind of error: %v", err)
			}
			return
		}
		lastLine, lastRead := int64(0), r.BytesRead()
		// Every call consumes at least one byte, so this many calls is
		// more than enough to reach the end.
		for range lim.MaxDecompressed + 2 {
			rec, err := r.Next()
			var rowErr *RowError
			switch {
			case err == io.EOF:
				if _, again := r.Next(); again != io.EOF {
					t.Fatalf("Next after io.EOF returned %v", again)
				}
				return
			case errors.As(err, &rowErr):
				if rowErr.Line <= lastLine {
					t.Fatalf("row error at line %d after line %d", rowErr.Line, lastLine)
				}
				lastLine = rowErr.Line
			case err != nil:
				if !errors.Is(err, ErrLimit) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Next: unexpected kind of fatal error: %v", err)
				}
				if _, again := r.Next(); again != err {
					t.Fatalf("Next after fatal %v returned %v", err, again)
				}
				return
			default:
				if rec.Line <= lastLine {
					t.Fatalf("record at line %d after line %d", rec.Line, lastLine)
				}
				lastLine = rec.Line
				for c, f := range rec.Fields {
					if len(f) > lim.MaxLine {
						t.Fatalf("%s is %d bytes, over the line limit", Column(c), len(f))
					}
				}
			}
			read := r.BytesRead()
			if read <= lastRead || read > lim.MaxDecompressed {
				t.Fatalf("BytesRead went from %d to %d (limit %d)", lastRead, read, lim.MaxDecompressed)
			}
			lastRead = read
		}
		t.Fatalf("Next did not reach the end in %d calls", lim.MaxDecompressed+2)
	})
}
