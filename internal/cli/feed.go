package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"forewarn/internal/feeddef"
)

const feedUsage = "Usage: forewarn feed validate [--sample BODY] FILE...\n       forewarn feed add [--db FILE] FILE\n       forewarn feed rm [--db FILE] ID"

// cmdFeed dispatches the feed subcommands.
func cmdFeed(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, feedUsage)
		if len(args) == 0 {
			return &ExitError{Code: 2}
		}
		return nil
	}
	switch args[0] {
	case "validate":
		return cmdFeedValidate(e, args[1:])
	case "add":
		return cmdFeedAdd(ctx, e, args[1:])
	case "rm":
		return cmdFeedRemove(ctx, e, args[1:])
	}
	fmt.Fprintln(e.stderr, feedUsage)
	return &ExitError{Code: 2, Err: fmt.Errorf("unknown feed command %q", args[0])}
}

// cmdFeedValidate checks definition files: every problem is printed as
// FILE:LINE:COL: message, a valid file as FILE: ok (id, N parameters).
func cmdFeedValidate(e *env, args []string) error {
	fs := newFlags(e, "feed validate", "feed validate [--sample BODY] FILE...")
	sample := fs.String("sample", "", "also read this feed body (a saved download, gzip or plain) with the definition and report what it yields")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 || (*sample != "" && len(files) != 1) {
		fs.Usage()
		return &ExitError{Code: 2, Err: errors.New("feed validate needs a definition file (exactly one with --sample)")}
	}
	bad := 0
	for _, f := range files {
		d, ok := validateFile(e, f)
		if !ok {
			bad++
		} else if *sample != "" {
			if err := readSample(e, d, *sample); err != nil {
				return err
			}
		}
	}
	if bad > 0 {
		return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d feed definitions are invalid", bad, len(files))}
	}
	return nil
}

func validateFile(e *env, name string) (*feeddef.Definition, bool) {
	src, err := readDefinition(name)
	if err != nil {
		fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
		return nil, false
	}
	d, err := feeddef.Parse(src)
	var problems feeddef.Problems
	switch {
	case errors.As(err, &problems):
		for _, p := range problems {
			fmt.Fprintf(e.stdout, "%s:%d:%d: %s\n", name, p.Line, p.Column, p.Message)
		}
		return nil, false
	case err != nil:
		fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
		return nil, false
	}
	fmt.Fprintf(e.stdout, "%s: ok (%s, %d parameters)\n", name, d.ID, len(d.Parameters))
	return d, true
}

// maxSample bounds a sample body after decompression.
const maxSample = 1 << 30

// readSample reads a saved feed body (gzip or plain, whatever the
// definition's compression) with d and its default settings, and
// prints what a run would get: entries, invalid lines (as
// BODY:LINE: reason), entries each filter dropped.
func readSample(e *env, d *feeddef.Definition, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("read the sample: %w", err)
	}
	defer f.Close()
	// A saved body may have been decompressed on the way: sniff it.
	sniff := *d
	sniff.Fetch.Compression = "auto"
	body, err := sniff.Decompress(f, maxSample)
	if err != nil {
		return fmt.Errorf("read the sample %s: %w", name, err)
	}
	defer body.Close()
	r, err := d.NewReader(body, feeddef.Params{Now: time.Now()})
	if err != nil {
		return fmt.Errorf("read the sample %s: %w", name, err)
	}
	distinct := map[netip.Prefix]struct{}{}
	for {
		en, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &ExitError{Code: 1, Err: fmt.Errorf("read the sample %s: %w", name, err)}
		}
		distinct[en.Prefix] = struct{}{}
	}
	st := r.Stats()
	for _, p := range r.Problems() {
		fmt.Fprintf(e.stdout, "%s:%d: %s\n", name, p.Line, p.Message)
	}
	fmt.Fprintf(e.stdout, "%s: %d lines, %d entries (%d distinct), %d invalid lines, %d attributes dropped",
		name, st.Lines, st.Entries, len(distinct), st.Invalid, st.Warnings)
	for i, n := range st.Filtered {
		fmt.Fprintf(e.stdout, ", %d dropped by filter %d (%s)", n, i+1, d.Filters[i].Type)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

func readDefinition(name string) ([]byte, error) {
	return readAtMost(name, feeddef.MaxDefinitionSize)
}

// readAtMost reads a definition file, at most max+1 bytes of it, so that
// the caller can tell a file over max from one that fits.
func readAtMost(name string, max int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return src, nil
}
