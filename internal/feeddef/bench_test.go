package feeddef

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/klauspost/compress/gzip"

	"forewarn/internal/dump"
	"forewarn/internal/dumpgen"
	"forewarn/internal/prediction"
)

// benchDump generates the benchmarks' dump: 100,000 rows, or
// FEEDDEF_BENCH_ROWS (a 1M dump profiles the reader as scripts/bench runs it).
func benchDump(b *testing.B) []byte {
	rows := 100_000
	if s := os.Getenv("FEEDDEF_BENCH_ROWS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("FEEDDEF_BENCH_ROWS=%q: give a positive number of rows", s)
		}
		rows = n
	}
	var gz bytes.Buffer
	if _, err := dumpgen.Generate(context.Background(), &gz, nil, dumpgen.Options{Rows: rows, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	return gz.Bytes()
}

// BenchmarkSeclyticsDefinition reads a 100,000-row dump through the
// generic CSV path with every attribute kept and no filter.
func BenchmarkSeclyticsDefinition(b *testing.B) {
	gz := benchDump(b)
	d := Builtin("seclytics")
	b.SetBytes(int64(len(gz)))
	b.ReportAllocs()
	for b.Loop() {
		body, _ := d.Decompress(bytes.NewReader(gz), 1<<30)
		b.ReportMetric(float64(readDefinition(b, d, body)), "rows")
		// Through io.Closer: scripts/bench-feeddef builds this file into
		// baselines whose Decompress returned a plain io.Reader.
		if c, ok := any(body).(io.Closer); ok {
			c.Close()
		}
	}
}

// BenchmarkSeclyticsHandWritten is the same dump through dump +
// prediction, for comparison.
func BenchmarkSeclyticsHandWritten(b *testing.B) {
	gz := benchDump(b)
	b.SetBytes(int64(len(gz)))
	b.ReportAllocs()
	for b.Loop() {
		parseHandWritten(b, gz)
	}
}

// BenchmarkIPList reads a 1,000,000-line IP list (the list-feed
// benchmark size) with the blocklist-de definition.
func BenchmarkIPList(b *testing.B) {
	var body bytes.Buffer
	for i := range 1_000_000 {
		fmt.Fprintf(&body, "%d.%d.%d.%d\n", 1+i>>24&127, i>>16&255, i>>8&255, i&255)
	}
	d := Builtin("blocklist-de")
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r, err := d.NewReader(bytes.NewReader(body.Bytes()), Params{})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if _, err := r.Next(); err != nil {
				break
			}
			n++
		}
		if n != 1_000_000 {
			b.Fatalf("%d entries", n)
		}
	}
}

func benchPlain(b *testing.B) []byte {
	var plain bytes.Buffer
	zr, err := gzip.NewReader(bytes.NewReader(benchDump(b)))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(&plain, zr); err != nil {
		b.Fatal(err)
	}
	return plain.Bytes()
}

// BenchmarkSeclyticsDefinitionPlain is BenchmarkSeclyticsDefinition on the
// decompressed dump: the parse alone, as a list run reads its spooled body.
func BenchmarkSeclyticsDefinitionPlain(b *testing.B) {
	body := benchPlain(b)
	d := Builtin("seclytics")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		readDefinition(b, d, bytes.NewReader(body))
	}
}

// BenchmarkSeclyticsHandWrittenPlain is the decompressed dump through
// dump + prediction, for comparison.
func BenchmarkSeclyticsHandWrittenPlain(b *testing.B) {
	body := benchPlain(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		parseHandWritten(b, body)
	}
}

// reportCPU reports the process's CPU time per iteration (cpu-ns/op) from
// the call to the call of the function it returns: on a loaded machine it
// varies less than the wall time, which includes waiting for a core.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// readDefinition reads body through d with every attribute kept and no
// filter, and returns the number of entries.
func readDefinition(b *testing.B, d *Definition, body io.Reader) int {
	r, err := d.NewReader(body, Params{Settings: map[string]string{"threshold": "0", "categories": "", "context": "all"}})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// parseHandWritten parses a dump (gzip or plain) through dump + prediction,
// the Seclytics runner's own path.
func parseHandWritten(b *testing.B, body []byte) {
	dr, err := dump.NewReader(bytes.NewReader(body), dump.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	defer dr.Close()
	p := prediction.NewParser(prediction.Limits{Latest: 1 << 40, MaxNetblock4: 16, MaxNetblock6: 32})
	var row prediction.Row
	for {
		rec, err := dr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			continue
		}
		p.Parse(rec, &row)
	}
}
