package dumpgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/gzip"

	"forewarn/internal/dump"
)

// Format is the encoding of the rows in a generated dump.
type Format string

// The formats Generate can write.
const (
	// CSV is the format Seclytics serves: a header line, then one
	// comma-separated row per line.
	CSV Format = "csv"
	// NDJSON writes one JSON object per line with the CSV header names as
	// keys and the list columns as arrays of strings.
	NDJSON Format = "ndjson"
)

// ErrInvalidOptions is returned (wrapped) by Options.Validate and Generate
// when an option is out of range.
var ErrInvalidOptions = errors.New("invalid dump generator options")

// Default date range of the generated predictions: the guide says the dump
// holds "all seen predicted IPs since 2015".
var (
	DefaultStart = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultEnd   = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
)

// gzipLevel is gzip's default, which the real dumps are most likely made
// with; the generator still writes well over a million rows a second with it
// (see BenchmarkGenerate).
const gzipLevel = gzip.DefaultCompression

// Options describes the dump to generate. The zero value, apart from Rows,
// is a valid CSV dump spanning the default date range.
type Options struct {
	// Rows is the exact number of data rows written to dataset A (the
	// CSV header is not counted).
	Rows int
	// Seed selects the dump: the same Seed and Options give byte-identical
	// output, a different Seed a different dump.
	Seed int64
	// Format is CSV when empty.
	Format Format
	// InvalidRate is the fraction (0..1) of rows replaced by malformed
	// rows. Each malformed row is counted in Stats.Invalid.
	InvalidRate float64
	// Start is the earliest predicted_at; DefaultStart when zero.
	Start time.Time
	// End is the latest date of any kind in the dump; DefaultEnd when zero.
	End time.Time
	// Epoch, when non-zero, re-dates about 10% of the valid rows: a newer
	// last_seen_at (where End allows) and a different importance. Every
	// address and every other value stay as in epoch 0, so two epochs
	// model a dump that changed between two downloads.
	Epoch int
}

// withDefaults returns o with its zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Format == "" {
		o.Format = CSV
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.End.IsZero() {
		o.End = DefaultEnd
	}
	return o
}

// Validate reports the first option that is out of range, naming the field.
func (o Options) Validate() error {
	o = o.withDefaults()
	switch {
	case o.Rows < 0:
		return fmt.Errorf("%w: Rows is %d, want 0 or more", ErrInvalidOptions, o.Rows)
	case o.Format != CSV && o.Format != NDJSON:
		return fmt.Errorf("%w: Format is %q, want %q or %q", ErrInvalidOptions, o.Format, CSV, NDJSON)
	case !(o.InvalidRate >= 0 && o.InvalidRate <= 1):
		return fmt.Errorf("%w: InvalidRate is %v, want a fraction between 0 and 1", ErrInvalidOptions, o.InvalidRate)
	case o.Start.UTC().Year() < 1 || o.End.UTC().Year() > 9999:
		return fmt.Errorf("%w: Start and End must lie between years 1 and 9999", ErrInvalidOptions)
	case !o.End.After(o.Start):
		return fmt.Errorf("%w: End (%s) must be after Start (%s)", ErrInvalidOptions,
			o.End.UTC().Format(time.RFC3339), o.Start.UTC().Format(time.RFC3339))
	}
	return nil
}

// Stats counts what Generate wrote.
type Stats struct {
	// Rows is the number of data rows in dataset A.
	Rows int
	// RowsB is the number of data rows in dataset B.
	RowsB int
	// Invalid is the number of malformed rows in dataset A.
	Invalid int
	// IPv6 is the number of rows of A whose ip is a valid IPv6 address.
	IPv6 int
	// Repeats is the number of rows of A whose ip already appeared in an
	// earlier row, with a newer last_seen_at.
	Repeats int
}

// flushSize is how much formatted text is gathered before it is handed to
// the compressor, so the compressor sees large writes.
const flushSize = 64 << 10

// Generate writes dataset A gzip-compressed to a and, if b is not nil,
// dataset B (the rows of A with importance >= 70, in the same order and
// under the same header) gzip-compressed to b, in a single pass. A row is in
// B exactly when it has all eleven fields and its importance field is a
// number of at least 70, malformed or not.
func Generate(ctx context.Context, a, b io.Writer, opts Options) (Stats, error) {
	if a == nil {
		return Stats{}, fmt.Errorf("%w: the writer for dataset A is nil", ErrInvalidOptions)
	}
	if err := opts.Validate(); err != nil {
		return Stats{}, err
	}
	opts = opts.withDefaults()

	outA, err := newOutput(a)
	if err != nil {
		return Stats{}, err
	}
	var outB *output
	if b != nil {
		if outB, err = newOutput(b); err != nil {
			return Stats{}, err
		}
	}

	g := newGenerator(opts)
	if opts.Format == CSV {
		outA.buf = appendHeader(outA.buf)
		if outB != nil {
			outB.buf = appendHeader(outB.buf)
		}
	}
	for i := range opts.Rows {
		if i&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return g.stats, fmt.Errorf("generate dump: %w", err)
			}
		}
		start := len(outA.buf)
		var inB bool
		outA.buf, inB = g.appendRow(outA.buf, i)
		if inB && outB != nil {
			outB.buf = append(outB.buf, outA.buf[start:]...)
		}
		if len(outA.buf) >= flushSize {
			if err := outA.flush(); err != nil {
				return g.stats, fmt.Errorf("write dataset A: %w", err)
			}
		}
		if outB != nil && len(outB.buf) >= flushSize {
			if err := outB.flush(); err != nil {
				return g.stats, fmt.Errorf("write dataset B: %w", err)
			}
		}
	}
	if err := outA.close(); err != nil {
		return g.stats, fmt.Errorf("write dataset A: %w", err)
	}
	if outB != nil {
		if err := outB.close(); err != nil {
			return g.stats, fmt.Errorf("write dataset B: %w", err)
		}
	}
	if outB == nil {
		g.stats.RowsB = 0
	}
	return g.stats, nil
}

// appendHeader appends the CSV header line.
func appendHeader(b []byte) []byte {
	for i, name := range dump.ColumnNames {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, name...)
	}
	return append(b, '\n')
}

// output is one compressed destination: formatted text gathers in buf, is
// compressed by gz, and the compressed stream is buffered by bw so the
// destination sees few, large writes.
type output struct {
	buf []byte
	gz  *gzip.Writer
	bw  *bufio.Writer
}

func newOutput(w io.Writer) (*output, error) {
	bw := bufio.NewWriterSize(w, 256<<10)
	gz, err := gzip.NewWriterLevel(bw, gzipLevel)
	if err != nil {
		return nil, fmt.Errorf("create gzip writer: %w", err)
	}
	return &output{buf: make([]byte, 0, flushSize+4096), gz: gz, bw: bw}, nil
}

func (o *output) flush() error {
	_, err := o.gz.Write(o.buf)
	o.buf = o.buf[:0]
	return err
}

func (o *output) close() error {
	if err := o.flush(); err != nil {
		return err
	}
	if err := o.gz.Close(); err != nil {
		return err
	}
	return o.bw.Flush()
}
