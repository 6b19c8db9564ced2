package dump_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"forewarn/internal/dump"
	"forewarn/internal/dumpgen"
)

// result is one call of Next in comparable form.
type result struct {
	Line   int64
	Fields [dump.NumColumns]string
	Nil    [dump.NumColumns]bool
	Err    string
}

// collect calls Next until io.EOF or a fatal error and returns every result
// (the fatal error, if any, last).
func collect(t *testing.T, next func() (*dump.Record, error)) []result {
	t.Helper()
	var out []result
	for {
		rec, err := next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			var re *dump.RowError
			r := result{Err: err.Error()}
			if errors.As(err, &re) {
				r.Line = re.Line
				out = append(out, r)
				continue
			}
			return append(out, r)
		}
		r := result{Line: rec.Line}
		for c, f := range rec.Fields {
			r.Fields[c], r.Nil[c] = string(f), f == nil
		}
		out = append(out, r)
	}
}

func serialAndPipelined(t *testing.T, body []byte, lim dump.Limits) (serial, pipelined []result) {
	t.Helper()
	dr, err := dump.NewReader(bytes.NewReader(body), lim)
	if err != nil {
		t.Fatal(err)
	}
	serial = collect(t, dr.Next)
	dr.Close()

	dr, err = dump.NewReader(bytes.NewReader(body), lim)
	if err != nil {
		t.Fatal(err)
	}
	p := dr.Pipeline()
	if p == nil {
		t.Fatal("Pipeline returned nil for a CSV dump")
	}
	defer p.Close()
	return serial, collect(t, p.Next)
}

// TestPipelinedMatchesSerial reads generated dumps, malformed rows
// included, record by record and through the pipeline: every record, row
// error and line number comes out the same and in the same order, across
// many batch boundaries.
func TestPipelinedMatchesSerial(t *testing.T) {
	var gz bytes.Buffer
	st, err := dumpgen.Generate(context.Background(), &gz, nil, dumpgen.Options{Rows: 20_000, Seed: 15, InvalidRate: 0.02})
	if err != nil {
		t.Fatal(err)
	}
	serial, pipelined := serialAndPipelined(t, gz.Bytes(), dump.Limits{})
	if len(serial) < 20_000 || st.Invalid == 0 {
		t.Fatalf("%d results, %d malformed rows: not a test of batching", len(serial), st.Invalid)
	}
	if diff := cmp.Diff(serial, pipelined); diff != "" {
		t.Fatalf("pipelined differs from serial (-serial +pipelined):\n%s", diff)
	}

	t.Run("long records cut batches by bytes", func(t *testing.T) {
		var b strings.Builder
		b.WriteString(strings.Join(dump.ColumnNames[:], ",") + "\n")
		long := strings.Repeat("x", 700<<10)
		for i := range 50 {
			cluster := "c"
			if i%3 == 0 {
				cluster = long // three of these fill a batch's arena
			}
			b.WriteString("198.51.100.7,,,spam," + cluster + ",\"a,\nb\",,,,," + "85\n")
		}
		serial, pipelined := serialAndPipelined(t, []byte(b.String()), dump.Limits{})
		if len(serial) != 50 {
			t.Fatalf("%d records, want 50", len(serial))
		}
		if diff := cmp.Diff(serial, pipelined); diff != "" {
			t.Fatalf("(-serial +pipelined):\n%s", diff)
		}
	})

	t.Run("a damaged gzip stream ends both alike", func(t *testing.T) {
		cut := gz.Bytes()[:gz.Len()*2/3]
		serial, pipelined := serialAndPipelined(t, cut, dump.Limits{})
		if last := serial[len(serial)-1]; last.Err == "" || len(serial) < 1000 {
			t.Fatalf("%d results, the last %+v: want a fatal error after many records", len(serial), last)
		}
		if diff := cmp.Diff(serial, pipelined); diff != "" {
			t.Fatalf("(-serial +pipelined):\n%s", diff)
		}
	})

	t.Run("a record past MaxLine ends both alike", func(t *testing.T) {
		serial, pipelined := serialAndPipelined(t, gz.Bytes(), dump.Limits{MaxLine: 200})
		if last := serial[len(serial)-1]; !strings.Contains(last.Err, "longer than") {
			t.Fatalf("the last result %+v: want the line limit", last)
		}
		if diff := cmp.Diff(serial, pipelined); diff != "" {
			t.Fatalf("(-serial +pipelined):\n%s", diff)
		}
	})
}

// TestPipelinedCloseMidStream: closing a pipeline that is blocked on a
// body that sends nothing more returns promptly, and Next then fails.
func TestPipelinedCloseMidStream(t *testing.T) {
	var gz bytes.Buffer
	if _, err := dumpgen.Generate(context.Background(), &gz, nil, dumpgen.Options{Rows: 40_000, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		// More than a batch of records, then stall, as a slow server.
		pw.Write(gz.Bytes()[:gz.Len()/2])
	}()
	dr, err := dump.NewReader(pr, dump.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	p := dr.Pipeline()
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10 s while the body stalled")
	}
	if _, err := p.Next(); !errors.Is(err, dump.ErrPipelineClosed) {
		t.Fatalf("Next after Close: %v, want ErrPipelineClosed", err)
	}
}
