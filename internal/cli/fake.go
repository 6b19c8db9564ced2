package cli

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"forewarn/internal/dumpgen"
	"forewarn/internal/fakeseclytics"
)

func cmdFake(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "fake", "fake [--listen 127.0.0.1:0] [--rows N] [--seed S] [--format csv|ndjson] [--token T] [--fault SPEC]")
	listen := fs.String("listen", "127.0.0.1:0", "loopback address to listen on")
	var o fakeseclytics.Options
	fs.IntVar(&o.Rows, "rows", 100000, "rows in dataset A")
	fs.IntVar(&o.ListEntries, "list-entries", 1000, "entries in each built-in list feed served beside the dumps")
	fs.Int64Var(&o.Seed, "seed", 1, "generator seed")
	format := fs.String("format", "csv", "csv or ndjson")
	fs.Float64Var(&o.InvalidRate, "invalid-rate", 0, "fraction of invalid rows")
	fs.IntVar(&o.Epoch, "epoch", 0, "a non-zero epoch re-dates about 10% of rows (a changed dump)")
	fs.StringVar(&o.Token, "token", "", "the only token to accept (default: any non-empty token)")
	fs.BoolVar(&o.NoETag, "no-etag", false, "send no ETag")
	fs.BoolVar(&o.NoLastModified, "no-last-modified", false, "send no Last-Modified")
	fs.StringVar(&o.FileA, "file-a", "", "serve this gzip file as dataset A instead of generating")
	fs.StringVar(&o.FileB, "file-b", "", "serve this gzip file as dataset B instead of generating")
	fs.StringVar(&o.Dir, "dir", "", "cache generated dumps here")
	fault := fs.String("fault", "", "inject a fault into dump requests, e.g. 503x2, 429x1,retry-after=1, 401, cut=4096, html,\n"+
		"stall[=BYTES], trickle=10KiB, truncate, crc, empty, header-only, no-ip, bomb=1GiB, long-line=2MiB;\n"+
		"xN or times=N limits it to the next N requests (see docs/reliability.md)")
	_, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := loopbackOnly(*listen); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	o.Format = dumpgen.Format(*format)
	if o.Fault, err = fakeseclytics.ParseFault(*fault); err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o700); err != nil {
			return fmt.Errorf("fake-seclytics: %w", err)
		}
	}
	return fakeseclytics.Run(ctx, *listen, o, e.stdout)
}

// loopbackOnly refuses to expose the fake server beyond this machine.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: the built-in test server listens on loopback only (127.0.0.1)", addr)
	}
	return nil
}

func cmdGen(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "conn-log" {
		return cmdGenConnLog(ctx, e, args[1:])
	}
	fs := newFlags(e, "gen", "gen --rows N --seed S [--format csv|ndjson] [--invalid-rate R] [--start DATE] [--end DATE] -o FILE.gz [--b FILE.gz]")
	var o dumpgen.Options
	fs.IntVar(&o.Rows, "rows", 100000, "rows in dataset A")
	fs.Int64Var(&o.Seed, "seed", 1, "generator seed (same seed, same bytes)")
	format := fs.String("format", "csv", "csv or ndjson")
	fs.Float64Var(&o.InvalidRate, "invalid-rate", 0, "fraction of invalid rows, 0-1")
	fs.IntVar(&o.Epoch, "epoch", 0, "a non-zero epoch re-dates about 10% of rows (a changed dump)")
	start := fs.String("start", "", "earliest predicted_at, YYYY-MM-DD (default "+dumpgen.DefaultStart.Format(time.DateOnly)+")")
	end := fs.String("end", "", "latest date of any kind, YYYY-MM-DD (default "+dumpgen.DefaultEnd.Format(time.DateOnly)+")")
	out := fs.String("o", "", "output file for dataset A (gzip)")
	outB := fs.String("b", "", "also write dataset B (importance 70 or higher) here")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return &ExitError{Code: 2, Err: fmt.Errorf("-o FILE.gz is required")}
	}
	o.Format = dumpgen.Format(*format)
	for _, d := range []struct {
		flag, v string
		t       *time.Time
	}{{"--start", *start, &o.Start}, {"--end", *end, &o.End}} {
		if d.v == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.v)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("%s %q is not a date: give it as YYYY-MM-DD", d.flag, d.v)}
		}
		*d.t = t
	}
	if err := o.Validate(); err != nil {
		return &ExitError{Code: 2, Err: fmt.Errorf("gen: %w", err)}
	}
	fa, err := os.Create(*out + ".tmp")
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	defer os.Remove(fa.Name())
	wa := bufio.NewWriterSize(fa, 1<<20)
	var fb *os.File
	var wb *bufio.Writer
	if *outB != "" {
		if fb, err = os.Create(*outB + ".tmp"); err != nil {
			fa.Close()
			return fmt.Errorf("gen: %w", err)
		}
		defer os.Remove(fb.Name())
		wb = bufio.NewWriterSize(fb, 1<<20)
	}
	var stats dumpgen.Stats
	if wb != nil {
		stats, err = dumpgen.Generate(ctx, wa, wb, o)
	} else { // a nil *bufio.Writer in an io.Writer would not be nil
		stats, err = dumpgen.Generate(ctx, wa, nil, o)
	}
	if err == nil {
		err = wa.Flush()
	}
	if cerr := fa.Close(); err == nil {
		err = cerr
	}
	if fb != nil {
		if err == nil {
			err = wb.Flush()
		}
		if cerr := fb.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if err := os.Rename(fa.Name(), *out); err != nil {
		return fmt.Errorf("gen: %w", err)
	}
	if fb != nil {
		if err := os.Rename(fb.Name(), *outB); err != nil {
			return fmt.Errorf("gen: %w", err)
		}
	}
	fmt.Fprintf(e.stderr, "wrote %s: %d rows (%d in dataset B, %d invalid, %d IPv6, %d repeats)\n",
		*out, stats.Rows, stats.RowsB, stats.Invalid, stats.IPv6, stats.Repeats)
	return nil
}
